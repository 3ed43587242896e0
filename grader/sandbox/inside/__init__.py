"""Inside the box: code that runs confined, next to the submission, and must trust nothing it finds there.

`runtime` imports the submission as the package `exercises` and serves the judge over the inherited
socket; `transport` routes every httpx2 request of the SDKs to the judge; `values` turns what the
submission returns into plain data; `network` is the audit hook that refuses sockets.
"""
