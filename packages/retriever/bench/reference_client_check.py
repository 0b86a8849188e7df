#!/usr/bin/python3
"""Interop check (not a product dependency): calls a /retrieve server the way the Search-R1
reference agent does (requests.post(url, json={"queries", "topk", "return_scores": True}).json(),
then reads doc_item['document']['contents'] and formats "Doc i(Title: ...) text"), and also checks
the return_scores=False path. Prints one JSON summary line; exits non-zero on any mismatch."""
import json
import sys

import requests


def main() -> None:
    url = sys.argv[1].rstrip("/") + "/retrieve"
    queries = ["who got the first nobel prize in physics", "Were Scott Derrickson and Ed Wood of the same nationality?"]
    scored = requests.post(url, json={"queries": queries, "topk": 3, "return_scores": True}).json()
    assert len(scored["result"]) == len(queries), scored
    formatted = []
    for retrieval_result in scored["result"]:
        assert len(retrieval_result) == 3
        text = ""
        for idx, doc_item in enumerate(retrieval_result):
            content = doc_item["document"]["contents"]
            assert isinstance(doc_item["score"], float), doc_item
            title = content.split("\n")[0]
            body = "\n".join(content.split("\n")[1:])
            text += f"Doc {idx + 1}(Title: {title}) {body}\n"
        formatted.append(text)
    bare = requests.post(url, json={"queries": queries, "topk": 2, "return_scores": False}).json()
    for docs in bare["result"]:
        assert len(docs) == 2
        for doc in docs:
            assert set(doc.keys()) == {"id", "contents"}, doc
    single = requests.post(url, json={"queries": queries[:1], "topk": 2, "return_scores": False}).json()
    assert set(single["result"][0][0].keys()) == {"id", "contents"}, single
    print(json.dumps({"ok": True, "first": formatted[0].split("\n")[0][:80]}))


if __name__ == "__main__":
    main()
