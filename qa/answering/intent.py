"""What a question asks for: a digest of whole documents ("Summarize this
paper"), a list of values ("List all the dates"), where a term is discussed
("Which documents mention GPUs?"), or an answer (everything else).

Rules over the question's words, in English and the other languages qa
reads (de, fr, es, it, pt, nl, ru, zh). They are written to be narrow: a
question that only looks like one of these ("What is the treaty about?" with
no document named) stays a question, as do all 1,832 questions of the dev set,
the SQuAD sample and XQuAD (tests/test_overview.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A reference to the documents themselves.
_DOC = (r"(?:this|the|that|my|our|these|those|all|each|every)?\s*(?:whole\s+)?(?:paper|papers|"
        r"document|documents|doc|docs|file|files|article|articles|report|reports|pdf|pdfs|"
        r"text|book|chapter|contract|page|pages|upload|uploads|it)")
_DIGEST = re.compile(
    r"^\s*(?:please\s+|can you\s+|could you\s+)?(?:summari[sz]e|sum up|give (?:me )?(?:a |an )?"
    r"(?:summary|overview|gist|tl;?dr)|(?:write|make) (?:a |an )?(?:summary|overview))\b|"
    r"\b(?:summary|overview|tl;?dr|gist) of " + _DOC + r"\b|"
    r"^\s*(?:what (?:is|are)|what's) " + _DOC + r"\s+(?:about|on)\s*\??\s*$|"
    r"^\s*(?:what (?:are|were) )?the (?:main|key) (?:points|findings|ideas|takeaways|results)"
    r"(?: of " + _DOC + r")?\s*\??\s*$|^\s*tl;?dr\b|"
    # de, fr, es, it, pt, nl, ru, zh
    r"\bfasse\b.*\bzusammen\b|\bzusammenfassung\b|\bworum geht es\b|"
    r"\brésume\b|\brésumé d[eu]\b|\bde quoi parle\b|"
    # "resume" only opening the request ("Resume este documento"): English has
    # the word too ("When did publication resume?")
    r"^\s*resume\s+(?:el|la|los|las|este|esta|estos|estas|mi|mis)\b|\bresumen de\b|"
    r"\bde qué trata\b|"
    r"\briassumi\b|\briassunto d\w*\b|\bdi cosa parla\b|"
    r"\bresuma\b|\bresumo d[oa]s?\b|\bdo que (?:se )?trata\b|"
    r"\bvat\b.*\bsamen\b|\bsamenvatting\b|\bwaar gaat\b.*\bover\b|"
    r"\bкратко\b|\bрезюме\b|\bперескажи\b|\bсуммируй\b|\bо ч[её]м\b.*\b(?:документ|статья|текст|файл)|"
    # Chinese: a request that opens with "summarise", or a document word
    # before "main content" ("这篇文章的主要内容是什么"), not a question about a
    # book or a rule in the text ("《鳄鱼泪》主要内容是什么？", "…是什么时候总结出来的？")
    r"^\s*(?:请|帮我|能否|可以)?\s*(?:总结|概括|摘要)|"
    r"(?:总结|概括)(?:一下)?(?:这篇|本文|全文|文章|文档|文件|报告|论文|这份|这本书|本书)|"
    r"(?:这篇|本文|全文|文章|文档|文件|报告|论文|这份|这本书|本书)[^，,？?]{0,8}"
    r"(?:主要内容|讲了什么|说了什么|讲的是什么|摘要)", re.I)

_KINDS = {
    "date": r"dates?|years?|deadlines?|daten|datum|jahre|dates|années|fechas|años|date|anni|"
            r"datas|anos|data|jaren|даты|годы|日期|年份",
    "number": r"numbers?|figures?|zahlen|nombres|chiffres|números|cifras|numeri|números|"
              r"getallen|числа|цифры|数字",
    "amount": r"amounts?|prices?|costs?|sums?|beträge|preise|montants|prix|importes|precios|"
              r"importi|prezzi|valores|preços|bedragen|prijzen|суммы|цены|金额|价格",
    "email": r"e-?mails?(?: addresses)?|email addresses|e-?mail-adressen|adresses e-?mail|"
             r"correos|indirizzi e-?mail|электронные адреса|邮箱|电子邮件",
    "url": r"urls?|links?|web ?sites?|web addresses|liens|enlaces|collegamenti|ligações|"
           r"ссылки|链接|网址",
    "person": r"people|persons?|names of people|personen|personnes|personas|persone|pessoas|"
              r"люди|人名|人物",
    "organisation": r"organi[sz]ations?|companies|firms|institutions|organisationen|firmen|"
                    r"unternehmen|entreprises|empresas|aziende|bedrijven|организации|компании|"
                    r"公司|机构|组织",
    "place": r"places?|locations?|cities|countries|orte|städte|länder|lieux|villes|lugares|"
             r"ciudades|luoghi|città|locais|plaatsen|места|города|страны|地点|地名|城市",
}
_LIST_VERB = (r"(?:list|show|give me|find|extract|collect|enumerate|name|what are|which are|"
              r"liste|zeige|nenne|liste[zr]?|donne|montre|enumera|lista|muestra|elenca|mostra|"
              r"lijst|toon|перечисли|покажи|найди|列出|列举|找出)")
_ALL = r"(?:all|every|each|alle|allen|tous|toutes|todos|todas|tutti|tutte|всех|все|所有|全部)"
_LIST = re.compile(r"^\s*(?:please\s+)?" + _LIST_VERB + r"\s+(?:me\s+)?" + _ALL +
                   r"\s+(?:the\s+|die\s+|der\s+|les\s+|los\s+|las\s+|i\s+|gli\s+|le\s+|os\s+|"
                   r"as\s+|de\s+)?(?P<kind>" + "|".join(f"(?:{v})" for v in _KINDS.values()) +
                   r")\b", re.I)
# Without "all": "List the numbers in report.pdf", "Extract the dates." (a
# clause after the kind, "List the people who signed", stays a question).
_LIST_BARE = re.compile(r"^\s*(?:please\s+)?(?:list|extract|enumerate|collect|show(?: me)?)\s+"
                        r"(?:the\s+)?(?P<kind>" + "|".join(f"(?:{v})" for v in _KINDS.values()) +
                        r")\s*(?:(?:in|from|of)\s+\S[^?!]*)?[?.!]?\s*$", re.I)
_ZH_LIST = re.compile(r"(?:列出|列举|找出)(?:所有|全部)的?(?P<kind>" + "|".join(
    w for v in _KINDS.values() for w in v.split("|") if re.match(r"[\u4e00-\u9fff]", w)) + ")")
_MENTIONS = re.compile(
    r"^\s*(?:" + _LIST_VERB + r"\s+)?" + _ALL + r"\s+(?:the\s+)?sentences? (?:that |which )?"
    r"(?:mention|mentions|contain|contains|say|about|with)\s+(?P<term>.+?)\s*[?.!]?\s*$", re.I)
_WHERE = re.compile(
    r"^\s*(?:in\s+)?(?:which|what)\s+(?:of (?:my|the|our) )?(?:documents?|files?|papers?|pages?|"
    r"articles?|reports?)\s+(?:do(?:es)?\s+)?(?:mentions?|discuss(?:es)?|talks? about|"
    r"contains?|covers?|says? anything about|refers? to|cites?)\s+(?P<term>.+?)\s*[?.!]?\s*$|"
    r"^\s*where (?:in (?:my|the|our) (?:documents?|files?|papers?)\s+)?(?:is|are)\s+(?P<term2>.+?)"
    r"\s+(?:mentioned|discussed|described)\s*\??\s*$|"
    r"^\s*(?:welche|in welchen)\s+(?:dokumente|dateien)\s+(?:erwähnen|behandeln|enthalten)\s+"
    r"(?P<term3>.+?)\s*\??\s*$|"
    r"^\s*quels\s+(?:documents|fichiers)\s+(?:mentionnent|parlent de|contiennent)\s+"
    r"(?P<term4>.+?)\s*\??\s*$|"
    r"^\s*(?:¿\s*)?qué\s+(?:documentos|archivos)\s+(?:mencionan|hablan de|contienen)\s+"
    r"(?P<term5>.+?)\s*\??\s*$|"
    r"^\s*quali\s+(?:documenti|file)\s+(?:menzionano|parlano di|contengono)\s+"
    r"(?P<term6>.+?)\s*\??\s*$|"
    r"^\s*quais\s+(?:documentos|arquivos)\s+(?:mencionam|falam de|contêm)\s+"
    r"(?P<term7>.+?)\s*\??\s*$|"
    r"^\s*welke\s+(?:documenten|bestanden)\s+(?:noemen|vermelden|gaan over|bevatten)\s+"
    r"(?P<term8>.+?)\s*\??\s*$|"
    r"^\s*в\s+каких\s+(?:документах|файлах)\s+(?:упоминается|упоминаются|говорится о)\s+"
    r"(?P<term9>.+?)\s*\??\s*$|"
    r"^\s*哪些(?:文档|文件)(?:提到|提及|讨论|包含)了?(?P<term10>.+?)\s*[？?]?\s*$", re.I)


@dataclass(frozen=True)
class Intent:
    """What a question asks for.

    Attributes:
        kind: "digest", "list", "where" or "question".
        value: for a list, the kind of value (date, number, amount, email,
            url, person, organisation, place) or "mentions" (every sentence
            holding `term`).
        term: for "where" and a list of mentions, the words looked for.
    """

    kind: str
    value: str = ""
    term: str = ""


QUESTION = Intent("question")


def classify(question: str) -> Intent:
    """The intent of a question (QUESTION for anything that is not clearly a
    digest, list or where question)."""
    text = " ".join(question.split())
    if _DIGEST.search(text):
        return Intent("digest")
    match = _MENTIONS.match(text)
    if match:
        return Intent("list", "mentions", _term(match.group("term")))
    match = _LIST.match(text) or _LIST_BARE.match(text) or _ZH_LIST.search(text)
    if match:
        said = match.group("kind").lower()
        for value, pattern in _KINDS.items():
            if re.fullmatch(pattern, said, re.I):
                return Intent("list", value)
    match = _WHERE.match(text)
    if match:
        term = next(v for k, v in match.groupdict().items() if v)
        return Intent("where", term=_term(term))
    return QUESTION


# A chat's follow-up to a whole-document question: "and the dates?", "what
# about Milvus?", "und die Jahre?", "et les montants ?", "还有金额呢？".
_CONNECTIVE = (r"(?:and|what about|how about|now|also|then|same for|und|was ist mit|et|"
               r"et pour|y|e|en|en nu|а|и|а как насчёт|那|还有|那么)")
_FOLLOW = re.compile(r"^\s*(?:¿\s*)?" + _CONNECTIVE + r"\b\s*,?\s*(?P<rest>.+?)\s*(?:,?\s*"
                     r"(?:too|as well|also|auch|aussi|también|anche|também|ook|тоже|呢))?"
                     r"\s*[?？.!]*\s*$", re.I)
_ARTICLE = (r"(?:the|all the|all|die|der|alle|les|tous les|toutes les|los|las|todos los|todas "
            r"las|i|gli|le|tutti i|tutte le|os|as|de|alle|все)\s+")
_ASKS = re.compile(
    r"(?:what|who|whom|whose|when|where|why|how|which|is|are|was|were|do|does|did|can|could|"
    r"will|would|should|has|have|had|wer|wann|wo|warum|wie|welche|qui|que|quoi|quand|où|"
    r"pourquoi|comment|quel|quelle|quién|qué|cuándo|dónde|por qué|cómo|chi|cosa|quando|dove|"
    r"perché|come|quem|o que|onde|wat|wanneer|waar|waarom|hoe|кто|что|когда|где|почему|как)\b"
    r"|(?:什么|谁|为什么|怎么|哪)", re.I)
_ZH_FOLLOW = re.compile(r"^\s*(?:那|还有|那么)(?P<rest>.+?)\s*(?:呢)?\s*[?？]?\s*$")


def follow_up(question: str, previous: Intent) -> Intent:
    """The intent of a chat follow-up to a whole-document question (`previous`
    is the intent of the user's last message): "and the dates?" after a list
    or a digest lists dates; "what about Milvus?" after a where question (or a
    list of sentences that mention a term) asks the same of Milvus; "and the
    Solana paper?" after a digest digests that document. Anything else, and
    any follow-up to an ordinary question, is QUESTION."""
    if previous.kind == "question":
        return QUESTION
    text = " ".join(question.split())
    match = _FOLLOW.match(text) or _ZH_FOLLOW.match(text)
    if not match:
        return QUESTION
    rest = re.sub(r"^" + _ARTICLE, "", match.group("rest"), flags=re.I)
    rest = re.sub(r"\s+(?:in|of|from)\s+(?:it|this|that|them|these)\b.*$", "", rest, flags=re.I)
    for value, pattern in _KINDS.items():
        if re.fullmatch(pattern, rest, re.I):
            return Intent("list", value)
    if (len(rest.split()) > 4 and not re.search(r"[\u4e00-\u9fff]", rest)) or _ASKS.match(rest):
        return QUESTION  # "and what did he say?" is a question of its own
    if previous.kind == "where" or previous.value == "mentions":
        return Intent(previous.kind, previous.value, _term(rest))
    if previous.kind == "digest" and re.search(
            r"\b(?:paper|document|doc|file|article|report|pdf|book|one|other)s?\b|\.\w{2,4}\b",
            rest, re.I):
        return Intent("digest")
    return QUESTION


_BACK = re.compile(r"\b(?:it|this|that|these|those|them|ihn|es|dies\w*|ce|cette|ces|este|esta|"
                   r"esto|questo|questa|deze|dit|этот|эта|это)\b|这|该", re.I)


def refers_back(question: str) -> bool:
    """Whether a whole-document question points at a document already in the
    conversation ("Summarize it", "List the dates in this paper")."""
    return bool(_BACK.search(question))


def _term(text: str) -> str:
    """The words looked for, without quotes and a trailing "in my documents"."""
    text = re.sub(r"\s+(?:in|of|from)\s+(?:my|the|our|these|all)\s+(?:documents?|files?|"
                  r"papers?)\s*$", "", text.strip(), flags=re.I)
    return text.strip(" \"'“”‘’«»")
