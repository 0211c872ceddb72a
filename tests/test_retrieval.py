import numpy as np

from qa.store.hybrid import fuse


def test_rrf_rewards_agreement():
    dense = np.array([1, 2, 3])
    lexical = np.array([3, 4, 1])
    fused = fuse([dense, lexical], rrf_k=60)
    order = sorted(fused, key=lambda row: -fused[row])
    assert order[:2] == [1, 3]  # in both lists beats top of one
    assert abs(fused[1] - (1 / 61 + 1 / 63)) < 1e-12
    assert set(fused) == {1, 2, 3, 4}


def test_hybrid_finds_exact_terms_and_meaning(bot):
    by_term = bot.retrieve("Botsan-Kharchenko", k=2)
    assert all("Botsan-Kharchenko" in s.text for s in by_term)
    by_meaning = bot.retrieve("people fleeing their homes", k=3)
    assert any("refugees" in s.text for s in by_meaning)


def test_langchain_retriever(bot):
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever

    retriever = bot.as_retriever(k=2)
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke("Who administers Kosovo?")
    assert len(docs) == 2 and all(isinstance(d, Document) for d in docs)
    assert any("United Nations" in d.page_content for d in docs)
    meta = docs[0].metadata
    assert meta["source"] == "russia-warns-kosovo.txt" and meta["end"] > meta["start"]


def test_bm25_document_frequencies_match_a_direct_count(bot):
    from collections import Counter

    from qa.chunking import terms
    from qa.store.hybrid import Lexical

    lexical = Lexical(bot.store)
    counted = Counter(t for chunk in bot.store.chunks for t in set(terms(chunk.text)))
    assert {t: lexical.df(t) for t in counted} == dict(counted)
    assert lexical.idf("kosovo") < lexical.idf("catastroph") < lexical.idf("zanzibar")


def test_copies_of_a_file_take_one_place_in_the_ranking(bot, tmp_path):
    """A file held twice (the same text under two names) gives each of its
    chunks one place in the fused ranking, so its copies do not push another
    file's chunk out of the top k; RRF counts the copies as one entry."""
    from qa.store.hybrid import fuse

    # rows 6, 7 and 8 are one chunk's copies: one entry, named by row 6
    assert fuse([np.array([5, 6, 7]), np.array([8, 6])], 60, same=lambda r: min(r, 6)) == {
        5: 1 / 61, 6: 1 / 62 + 1 / 61}
    mill = "The Velde tide mill was restored in 2019 by the Korsby mill society."
    for name in ("mill.txt", "mill-copy.txt"):
        (tmp_path / name).write_text(mill, encoding="utf-8")
    (tmp_path / "dam.txt").write_text("The Velde mill dam was rebuilt after the flood.",
                                      encoding="utf-8")
    bot.add([tmp_path])
    found = bot.retrieve("Who restored the Velde tide mill?", k=2)
    assert sorted(s.source for s in found) in (["dam.txt", "mill.txt"],
                                               ["dam.txt", "mill-copy.txt"])
