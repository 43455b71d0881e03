#!/usr/bin/env python3
"""Redo a promo draw (algorithm promo-draw/v2, docs/DRAW.md) from its revealed seed and
its snapshot, with nothing but the Python standard library, and say whether the result
matches the published commitment and winners.

    python3 infra/verify_draw.py --seed <64 hex> --picks N [--multiple-wins]
        [--commitment <64 hex>] [--snapshot-hash <64 hex>] [--winners FILE] < snapshot.txt

snapshot.txt is the canonical snapshot: one line "user_id:tickets" per participant,
ascending user_id, tickets > 0. It prints the snapshot hash and the winners in pick
order ("user_id:tickets" per line); with --commitment, --snapshot-hash or --winners it
checks them and exits 1 on any mismatch. --multiple-wins redoes a draw of a raffle where
one user may win several prizes ("tickets-without-replacement": a pick takes only the
winning ticket out of play).

This file is an independent implementation of core/src/campaigns/draw.rs: a test runs
both on the same data and compares.
"""
import argparse
import hashlib
import sys

KEY_PREFIX = b"promo-draw/v2\0"
MASK = (1 << 64) - 1


def words(key):
    counter = 0
    while True:
        block = hashlib.sha256(key + counter.to_bytes(8, "big")).digest()
        for i in range(4):
            yield int.from_bytes(block[8 * i: 8 * i + 8], "big")
        counter += 1


def below(stream, n):
    limit = (1 << 64) - ((1 << 64) % n)  # accept words in [0, limit)
    while True:
        word = next(stream)
        if word < limit:
            return word % n


def draw(entries, seed, picks, by_ticket=False):
    canonical = "".join(f"{u}:{t}\n" for u, t in entries).encode()
    snapshot_hash = hashlib.sha256(canonical).digest()
    key = hashlib.sha256(KEY_PREFIX + seed + snapshot_hash).digest()
    stream = words(key)
    weights = [t for _, t in entries]
    remaining = sum(weights)
    winners = []
    while len(winners) < picks and remaining > 0:
        index = below(stream, remaining)
        # Plain linear scan: slower than the Fenwick tree, and that is the point of a
        # second implementation.
        for at, w in enumerate(weights):
            if index < w:
                break
            index -= w
        winners.append((entries[at][0], entries[at][1]))
        taken = 1 if by_ticket else weights[at]
        remaining -= taken
        weights[at] -= taken
    return snapshot_hash.hex(), winners


def read_snapshot(lines):
    entries, last = [], None
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        user, _, tickets = line.partition(":")
        user, tickets = int(user), int(tickets)
        if last is not None and user <= last:
            sys.exit(f"line {number}: user {user} after {last}; the snapshot must be sorted")
        if tickets <= 0:
            sys.exit(f"line {number}: user {user} holds {tickets} tickets")
        entries.append((user, tickets))
        last = user
    return entries


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", required=True)
    parser.add_argument("--picks", type=int, required=True)
    parser.add_argument("--multiple-wins", action="store_true")
    parser.add_argument("--commitment")
    parser.add_argument("--snapshot-hash")
    parser.add_argument("--winners")
    args = parser.parse_args()
    seed = bytes.fromhex(args.seed)
    if len(seed) != 32:
        sys.exit("the seed is 32 bytes (64 hex digits)")
    ok = True
    if args.commitment is not None:
        matches = hashlib.sha256(seed).hexdigest() == args.commitment.lower()
        print(f"commitment: {'matches' if matches else 'DOES NOT MATCH'}")
        ok &= matches
    snapshot_hash, winners = draw(read_snapshot(sys.stdin), seed, args.picks, args.multiple_wins)
    print(f"snapshot: {snapshot_hash}")
    if args.snapshot_hash is not None:
        matches = snapshot_hash == args.snapshot_hash.lower()
        print(f"snapshot hash: {'matches' if matches else 'DOES NOT MATCH'}")
        ok &= matches
    for user, tickets in winners:
        print(f"{user}:{tickets}")
    if args.winners is not None:
        with open(args.winners) as published:
            expected = [line.strip() for line in published if line.strip()]
        matches = expected == [f"{u}:{t}" for u, t in winners]
        print(f"winners: {'match' if matches else 'DO NOT MATCH'}")
        ok &= matches
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
