#!/usr/bin/env python3
"""Verify the hash chain of an audit log export, independently of audit.

Usage:
  verify_export.py [--key-file FILE] [--prev HASH] [--expect-head SEQ:HASH] FILE...

FILE is a JSON Lines export, oldest first, as written by
  audit export --format jsonl            (or -o FILE.jsonl / FILE.jsonl.gz)
  audit list -n 0 --reverse -o jsonl
  audit prune --archive FILE.jsonl[.gz]
or "-" for standard input; names ending in .gz are decompressed. Several
files are read as one stream, in the order given: the archives of earlier
prunes, then an export of what the store holds now.

The chain starts at the genesis hash (64 zeros) unless --prev gives the
hash the first event links to: the checkpoint's hash (or the last hash of
the previous archive) when the export starts after a prune, or the hash of
the event before an export that starts later (audit export --after SEQ).
--key-file is the integrity key, the file's bytes exactly as audit reads
them (a trailing newline is part of the key). docs/integrity.md describes
the encoding.

Prints "OK: N events, seq A-B, head HASH" and exits 0, or names the first
event that does not fit and exits 1 (2 for bad usage or input).

Standard library only: Python 3.8 or later.
"""

import argparse
import gzip
import hashlib
import hmac
import json
import sys

FIELDS = ("seq", "id", "time", "user", "user_name", "type", "action",
          "resource_type", "resource", "details", "ip", "outcome")
GENESIS = "0" * 64


def canonical(event):
    """The bytes the chain covers: each field as LEN:BYTES and a newline."""
    out = bytearray()
    for name in FIELDS:
        value = event.get(name, "")
        if name == "seq":
            value = str(int(value))
        data = value.encode("utf-8")
        out += str(len(data)).encode("ascii") + b":" + data + b"\n"
    return bytes(out)


def link(key, prev_hex, event):
    """hash_n = H(hash_{n-1} || canonical(event_n)) as lowercase hex."""
    msg = bytes.fromhex(prev_hex) + canonical(event)
    if key:
        return hmac.new(key, msg, hashlib.sha256).hexdigest()
    return hashlib.sha256(msg).hexdigest()


def events(paths):
    for path in paths:
        if path == "-":
            stream = sys.stdin.buffer
        elif path.endswith(".gz"):
            stream = gzip.open(path, "rb")
        else:
            stream = open(path, "rb")
        with stream:
            for number, line in enumerate(stream, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except ValueError as err:
                        sys.exit("%s:%d: not JSON: %s" % (path, number, err))


def where(e):
    return "seq %s (%s, %s %s)" % (e.get("seq"), e.get("time"), e.get("user"), e.get("type"))


def main():
    ap = argparse.ArgumentParser(description="Verify the hash chain of an audit JSONL export.")
    ap.add_argument("files", nargs="+", metavar="FILE")
    ap.add_argument("--key-file", help="the integrity key (HMAC-SHA-256); without it, SHA-256")
    ap.add_argument("--prev", default=GENESIS, help="the hash the first event links to (default: genesis)")
    ap.add_argument("--expect-head", metavar="SEQ:HASH", help="fail unless the chain passes through SEQ:HASH")
    args = ap.parse_args()

    key = open(args.key_file, "rb").read() if args.key_file else None
    prev, prev_seq, count, first = args.prev.lower(), None, 0, None
    expect = None
    if args.expect_head:
        seq, _, h = args.expect_head.partition(":")
        expect = (int(seq), h.lower())

    for e in events(args.files):
        seq = int(e["seq"])
        if prev_seq is not None and seq <= prev_seq:
            print("FAILED: %s: out of order after seq %d" % (where(e), prev_seq))
            return 1
        if prev_seq is not None and seq != prev_seq + 1:
            print("FAILED: %s: seq %d-%d missing: events were deleted" % (where(e), prev_seq + 1, seq - 1))
            return 1
        if link(key, prev, e) != str(e.get("hash", "")).lower():
            print("FAILED: %s: hash mismatch: the event was changed, or one before it deleted"
                  " (or the key or --prev is wrong)" % where(e))
            return 1
        if expect and expect[0] == seq:
            if e["hash"].lower() != expect[1]:
                print("FAILED: %s: hash differs from the expected head: the history was rewritten" % where(e))
                return 1
            expect = None
        prev, prev_seq, count = e["hash"].lower(), seq, count + 1
        first = seq if first is None else first

    if expect:
        print("FAILED: seq %d: the expected head is not in the export (seq %s-%s): deleted, or truncated"
              % (expect[0], first, prev_seq))
        return 1
    if count == 0:
        print("OK: 0 events")
    else:
        print("OK: %d events, seq %d-%d, head %s" % (count, first, prev_seq, prev))
    return 0


if __name__ == "__main__":
    sys.exit(main())
