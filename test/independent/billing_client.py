"""A second billing client for p2pcloud, written from docs/billing.md alone.

It makes payer headers (§2), does metered reads itself, pages through /billing/receipts (§6),
verifies every usage receipt v1 and v2 (§4), checks the items against its own counts and a
given list of entries (§9), computes the held set of v2 receipts (§9.2) and recomputes an
invoice (§7). Python 3 standard library plus `cryptography` (Ed25519) only.

Run:  python3 billing_client.py < job.json        (a run against a node, see `run`)
      python3 billing_client.py --vectors FILE    (docs/vectors/billing.json)
Both print one JSON object on stdout.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import sys
import time
import urllib.parse
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

MAX_SAFE = 2**53 - 1
GB = 10**9
MONTH = 2_592_000_000
MAX_ITEMS = 4096
MAX_BODY = 1 << 20
PAYER_DOMAIN = b"p2pcloud/v2/payer"
USAGE_DOMAINS = {1: b"p2pcloud/v1/usage", 2: b"p2pcloud/v2/usage"}
HEADER_RE = re.compile(r"^v2\.[0-9a-f]{64}\.(0|[1-9][0-9]{0,15})\.[0-9a-f]{128}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX128 = re.compile(r"^[0-9a-f]{128}$")
DECIMAL = re.compile(r"^(0|[1-9][0-9]{0,30})$")
# Fetch bounds of §6: a node cannot make the client hold more than this.
MAX_PAGES = 10_000
MAX_RECEIPTS = 100_000
MAX_RECEIPT_TEXT = 256 << 20
DEFAULT_SKEW_MS = 60_000


# ---------------------------------------------------------------- bytes and the payer header


def lp32(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def u64(value: int) -> bytes:
    return value.to_bytes(8, "big")


def payer_message(node: bytes, method: str, path: str, t: int, body: bytes) -> bytes:
    """The bytes a v2 payer header signs (§2)."""
    return (
        PAYER_DOMAIN
        + node
        + lp32(method.encode("utf-8"))
        + lp32(path.encode("utf-8"))
        + u64(t)
        + hashlib.sha256(body).digest()
    )


def payer_header(seed: bytes, node: bytes, method: str, path: str, t: int, body: bytes = b""):
    """Returns (header text, request id hex) for one request to the node whose key is `node`."""
    key = Ed25519PrivateKey.from_private_bytes(seed)
    public = key.public_key().public_bytes_raw()
    sig = key.sign(payer_message(node, method, path, t, body))
    header = f"v2.{public.hex()}.{t}.{sig.hex()}"
    if len(header) > 213 or not HEADER_RE.match(header):
        raise ValueError("payer header out of its documented form")
    return header, hashlib.sha256(sig).hexdigest()


def seed_public(seed: bytes) -> str:
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw().hex()


# ---------------------------------------------------------------- receipts (§4)


class Refused(Exception):
    """A receipt (or answer) refused, with the reason code of §9."""

    def __init__(self, reason: str, text: str):
        super().__init__(f"{reason}: {text}")
        self.reason = reason
        self.text = text


def _no_float(text: str):
    raise Refused("receipt_invalid", f"a number that is not a whole number: {text}")


def _no_constant(text: str):
    raise Refused("receipt_invalid", f"not JSON: {text}")


def _pairs(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise Refused("receipt_invalid", "a member appears twice")
    return dict(pairs)


def strict_json(text: str):
    """JSON with no duplicate members, no fractions or exponents, no NaN."""
    try:
        return json.loads(
            text, object_pairs_hook=_pairs, parse_float=_no_float, parse_constant=_no_constant
        )
    except Refused:
        raise
    except (ValueError, RecursionError) as err:
        raise Refused("receipt_invalid", f"not JSON: {err}") from None


def _exact(obj, members: list[str], what: str) -> None:
    if not isinstance(obj, dict):
        raise Refused("receipt_invalid", f"{what} is not an object")
    if list(obj.keys()) != members:
        raise Refused("receipt_invalid", f"{what} members are {list(obj.keys())}, not {members}")


def _whole(value, what: str) -> int:
    # bool is an int in Python; JSON true is not a number.
    if type(value) is not int or value < 0 or value > MAX_SAFE:
        raise Refused("receipt_invalid", f"{what} is not a whole number from 0 to 2^53 - 1")
    return value


def _decimal(value, what: str) -> int:
    if not isinstance(value, str) or not DECIMAL.match(value):
        raise Refused("receipt_invalid", f"{what} is not decimal text of at most 31 digits")
    return int(value)


def _hex(value, pattern: re.Pattern, what: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise Refused("receipt_invalid", f"{what} is not lowercase hex of the right length")
    return value


BODY_MEMBERS = {
    1: ["v", "node", "payer", "from", "to", "seq", "stored_byte_ms", "bytes_out", "fuel", "items"],
    2: [
        "v",
        "node",
        "payer",
        "from",
        "to",
        "seq",
        "stored_byte_ms",
        "bytes_out",
        "fuel",
        "held",
        "items",
    ],
}
ITEM_MEMBERS = {
    "store": ["k", "entry", "bytes", "from", "to"],
    "serve": ["k", "request", "bytes"],
    "fuel": ["k", "job", "receipt", "fuel"],
}
HELD_MEMBERS = ["entries", "bytes", "byte_ms"]


def _write(value) -> str:
    """The one text form of §4.2 for values already checked (no string needs an escape)."""
    if isinstance(value, dict):
        return "{" + ",".join(f'"{k}":{_write(v)}' for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_write(v) for v in value) + "]"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def canonical_body(body: dict) -> str:
    """Writes a checked body again, members in the documented order."""
    version = body["v"]
    out = {name: body[name] for name in BODY_MEMBERS[version] if name != "items"}
    if version == 2:
        out["held"] = {name: body["held"][name] for name in HELD_MEMBERS}
    out["items"] = [
        {name: item[name] for name in ITEM_MEMBERS[item["k"]]} for item in body["items"]
    ]
    return _write(out)


@dataclass
class Receipt:
    """A receipt that verified: the parsed body and the hash of its text."""

    v: int
    body: dict
    body_text: str
    hash: str
    seq: int
    period: tuple[int, int]


def verify_receipt(receipt) -> Receipt:
    """Verifies one receipt per §4 (v2) and §4.3 (v1); raises Refused('receipt_invalid')."""
    if not isinstance(receipt, dict) or sorted(receipt.keys()) != ["body", "sig", "type", "v"]:
        raise Refused("receipt_invalid", "a receipt has exactly type, v, body and sig")
    if receipt["type"] != "p2pcloud/usage":
        raise Refused("receipt_invalid", "type is not p2pcloud/usage")
    version = receipt["v"]
    if type(version) is not int or version not in USAGE_DOMAINS:
        raise Refused("receipt_invalid", "v is neither 1 nor 2")
    text = receipt["body"]
    sig = _hex(receipt["sig"], HEX128, "sig")
    if not isinstance(text, str):
        raise Refused("receipt_invalid", "body is not a string")
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        raise Refused("receipt_invalid", "body is not UTF-8 text") from None
    if len(raw) > MAX_BODY:
        raise Refused("receipt_invalid", "body longer than 1 MiB")
    body = strict_json(text)
    _exact(body, BODY_MEMBERS[version], "body")
    if type(body["v"]) is not int or body["v"] != version:
        raise Refused("receipt_invalid", f"body v is not the receipt's v ({version})")
    node = _hex(body["node"], HEX64, "node")
    _hex(body["payer"], HEX64, "payer")
    start = _whole(body["from"], "from")
    end = _whole(body["to"], "to")
    if start >= end:
        raise Refused("receipt_invalid", "from is not before to")
    _whole(body["seq"], "seq")
    stored = _decimal(body["stored_byte_ms"], "stored_byte_ms")
    bytes_out = _whole(body["bytes_out"], "bytes_out")
    fuel = _whole(body["fuel"], "fuel")
    items = body["items"]
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        raise Refused("receipt_invalid", "items is not a list of at most 4,096")
    held_ms = 0
    if version == 1:
        if not items:
            raise Refused("receipt_invalid", "a v1 receipt without items")
    else:
        held = body["held"]
        _exact(held, HELD_MEMBERS, "held")
        entries = _whole(held["entries"], "held.entries")
        held_bytes = _whole(held["bytes"], "held.bytes")
        held_ms = _decimal(held["byte_ms"], "held.byte_ms")
        if entries == 0 and (held_bytes != 0 or held_ms != 0):
            raise Refused("receipt_invalid", "held entries 0 with bytes or byte_ms")
        if held_ms > held_bytes * (end - start):
            raise Refused("receipt_invalid", "held byte_ms above held bytes × (to − from)")
        if not items and entries < 1:
            raise Refused("receipt_invalid", "neither items nor held entries")
    sum_stored, sum_out, sum_fuel = held_ms, 0, 0
    for item in items:
        kind = item.get("k") if isinstance(item, dict) else None
        if not isinstance(kind, str) or kind not in ITEM_MEMBERS:
            raise Refused("receipt_invalid", f"an item of unknown kind {kind!r}")
        _exact(item, ITEM_MEMBERS[kind], f"a {kind} item")
        if kind == "store":
            _hex(item["entry"], HEX64, "entry")
            size = _whole(item["bytes"], "bytes")
            a, b = _whole(item["from"], "item from"), _whole(item["to"], "item to")
            if not (start <= a < b <= end):
                raise Refused("receipt_invalid", "a storage item outside the period")
            sum_stored += size * (b - a)
        elif kind == "serve":
            _hex(item["request"], HEX64, "request")
            sum_out += _whole(item["bytes"], "bytes")
        else:
            _hex(item["job"], HEX32, "job")
            _hex(item["receipt"], HEX64, "receipt")
            sum_fuel += _whole(item["fuel"], "fuel")
    if canonical_body(body) != text:
        raise Refused("receipt_invalid", "body text is not its one form")
    if sum_stored != stored or sum_out != bytes_out or sum_fuel != fuel:
        raise Refused("receipt_invalid", "totals are not the sums of the items and held set")
    if len(str(sum_stored)) > 31:
        raise Refused("receipt_invalid", "stored_byte_ms longer than 31 digits")
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(node)).verify(
            bytes.fromhex(sig), USAGE_DOMAINS[version] + lp32(raw)
        )
    except (InvalidSignature, ValueError):
        raise Refused("receipt_invalid", "signature does not verify by node") from None
    return Receipt(version, body, text, hashlib.sha256(raw).hexdigest(), body["seq"], (start, end))


# ---------------------------------------------------------------- the check (§9)


@dataclass
class Entry:
    """An entry the payer sent: what may be billed for it (§9.1)."""

    id: str
    bytes: int
    expires_at: int
    sent_at: int


@dataclass
class Check:
    payer: str
    node: str
    entries: dict[str, Entry]
    reads: dict[str, int]  # request id -> body bytes received
    period_ms: int | None
    now: int
    skew_ms: int = DEFAULT_SKEW_MS
    differences: list[dict] = field(default_factory=list)
    totals: list[int] = field(default_factory=lambda: [0, 0, 0])
    verified: dict[int, Receipt] = field(default_factory=dict)
    held: list[dict] = field(default_factory=list)

    def flag(self, reason: str, text: str) -> None:
        self.differences.append({"reason": reason, "text": text})


def check_receipts(check: Check, receipts: list, since: int = 0, complete: bool = True) -> Check:
    """Verifies every receipt and holds its items to the payer's own counts."""
    good: list[Receipt] = []
    for raw in receipts:
        try:
            good.append(verify_receipt(raw))
        except Refused as err:
            check.flag(err.reason, err.text)
    good.sort(key=lambda r: r.seq)
    billed: dict[str, list[tuple[int, int]]] = {}
    first_named: dict[str, int] = {}  # entry id -> `to` of the period that first itemized it
    served: set[str] = set()
    periods: set[tuple[int, int]] = set()
    for r in good:
        body = r.body
        if body["payer"] != check.payer:
            check.flag("wrong_payer", f"seq {r.seq} is made out to {body['payer']}")
            continue
        if body["node"] != check.node:
            check.flag("wrong_node", f"seq {r.seq} is signed by {body['node']}")
            continue
        if r.seq in check.verified:
            check.flag("seq_repeated", f"seq {r.seq} came twice")
            continue
        check.verified[r.seq] = r
        check.totals[0] += int(body["stored_byte_ms"])
        check.totals[1] += body["bytes_out"]
        check.totals[2] += body["fuel"]
        start, end = r.period
        if end > check.now + check.skew_ms:
            check.flag("period_not_ended", f"seq {r.seq} bills up to {end}")
        if check.period_ms and (start % check.period_ms or end - start != check.period_ms):
            check.flag("period_misaligned", f"seq {r.seq} covers [{start}, {end})")
        if r.v == 2:
            _check_held(check, r, first_named, r.period in periods)
        periods.add(r.period)
        for item in body["items"]:
            _check_item(check, r, item, billed, first_named, served)
    if complete and check.verified:
        _check_gaps(check, since)
    return check


def _check_item(check, r, item, billed, first_named, served) -> None:
    kind, seq = item["k"], r.seq
    if kind == "store":
        entry = check.entries.get(item["entry"])
        if entry is None:
            check.flag("unknown_entry", f"seq {seq} bills storage of {item['entry']}")
            return
        if item["bytes"] > entry.bytes:
            check.flag(
                "bytes_inflated", f"seq {seq}: {item['bytes']} bytes for a {entry.bytes}-byte entry"
            )
        if item["from"] < entry.sent_at - check.skew_ms:
            check.flag(
                "storage_before_put",
                f"seq {seq}: {entry.id} from {item['from']}, sent at {entry.sent_at}",
            )
        if entry.expires_at and item["to"] > entry.expires_at:
            check.flag(
                "storage_after_expiry",
                f"seq {seq}: {entry.id} to {item['to']}, expires {entry.expires_at}",
            )
        spans = billed.setdefault(entry.id, [])
        if any(a < item["to"] and item["from"] < b for a, b in spans):
            check.flag("storage_overlap", f"seq {seq}: {entry.id} billed twice for the same time")
        elif r.v == 2 and entry.id in first_named and first_named[entry.id] <= r.period[0]:
            check.flag("storage_overlap", f"seq {seq}: {entry.id} itemized again while held")
        spans.append((item["from"], item["to"]))
        first_named.setdefault(entry.id, r.period[1])
    elif kind == "serve":
        received = check.reads.get(item["request"])
        if received is None:
            check.flag("unknown_request", f"seq {seq} bills request {item['request']}")
        elif item["request"] in served:
            check.flag("request_billed_twice", f"seq {seq}: request {item['request']}")
        elif item["bytes"] > received:
            check.flag(
                "bytes_inflated", f"seq {seq}: {item['bytes']} bytes served, {received} received"
            )
        served.add(item["request"])
    else:
        # This client submits no jobs: any fuel is for a job it never asked for.
        check.flag("unknown_job", f"seq {seq} bills job {item['job']}")


def held_set(check: Check, first_named: dict[str, int], start: int, end: int) -> dict:
    """§9.2: the entries itemized in periods ended by `start` that still accrue at `start`."""
    count = size = byte_ms = 0
    for entry_id, named_to in first_named.items():
        entry = check.entries[entry_id]
        if named_to <= start and (entry.expires_at == 0 or entry.expires_at > start):
            stop = end if entry.expires_at == 0 else min(end, entry.expires_at)
            count += 1
            size += entry.bytes
            byte_ms += entry.bytes * (stop - start)
    return {"entries": count, "bytes": size, "byte_ms": str(byte_ms)}


def _check_held(check, r, first_named, period_seen) -> None:
    held = r.body["held"]
    if period_seen:
        if held["entries"] > 0:
            check.flag("held_mismatch", f"seq {r.seq}, a later receipt of its period, holds")
        return
    expected = held_set(check, first_named, *r.period)
    check.held.append({"seq": r.seq, "node": held, "expected": expected})
    if int(held["byte_ms"]) > int(expected["byte_ms"]):
        check.flag("held_mismatch", f"seq {r.seq} holds {held}, the client computes {expected}")


def _check_gaps(check: Check, since: int) -> None:
    seqs = sorted(check.verified)
    expected = since
    for seq in seqs:
        if seq > expected:
            check.flag("seq_missing", f"seqs {expected} to {seq - 1} did not come")
        expected = max(expected, seq + 1)


# ---------------------------------------------------------------- invoices (§7)


def invoice_amount(totals: dict, prices: dict) -> float:
    """§7: the stored part as whole quotient plus the remainder divided, in doubles."""
    per = GB * MONTH
    stored = int(totals["stored_byte_ms"])
    quotient, remainder = divmod(stored, per)
    months = quotient + remainder / per
    return (
        months * prices["gb_month"]
        + totals["bytes_out"] / GB * prices["gb_out"]
        + totals["fuel"] / 10**6 * prices["mfuel"]
    )


def close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b)) or a == b


def check_invoice(check: Check, invoice: dict, start: int, end: int, prices) -> dict:
    """Holds an invoice to the receipts checked and recomputes its totals and amount."""
    sums = [0, 0, 0]
    for raw in invoice["receipts"]:
        try:
            r = verify_receipt(raw)
        except Refused as err:
            check.flag(err.reason, f"invoice: {err.text}")
            continue
        if r.body["node"] != check.node:
            check.flag("wrong_node", f"invoice: seq {r.seq} signed by {r.body['node']}")
            continue
        if not (start <= r.period[0] and r.period[1] <= end):
            check.flag("invoice_range", f"seq {r.seq} covers [{r.period[0]}, {r.period[1]})")
        known = check.verified.get(r.seq)
        if known is None:
            check.flag("receipt_unknown", f"invoice holds seq {r.seq} that no check saw")
        elif known.hash != r.hash:
            check.flag("receipt_changed", f"invoice holds another receipt under seq {r.seq}")
        sums[0] += int(r.body["stored_byte_ms"])
        sums[1] += r.body["bytes_out"]
        sums[2] += r.body["fuel"]
    totals = {"stored_byte_ms": str(sums[0]), "bytes_out": sums[1], "fuel": sums[2]}
    if invoice["totals"] != totals:
        check.flag("invoice_totals", f"invoice totals {invoice['totals']}, receipts sum {totals}")
    if prices is not None and invoice["prices"] != prices:
        check.flag("invoice_prices", f"invoice prices {invoice['prices']}, offered {prices}")
    amount = None if invoice["prices"] is None else invoice_amount(totals, invoice["prices"])
    if (amount is None) != (invoice["amount"] is None) or (
        amount is not None and not close(amount, invoice["amount"])
    ):
        check.flag("invoice_amount", f"invoice amount {invoice['amount']}, recomputed {amount}")
    return {
        "receipts": len(invoice["receipts"]),
        "totals": totals,
        "amount": amount,
        "node_amount": invoice["amount"],
    }


# ---------------------------------------------------------------- HTTP


class NodeError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code = status, code


class Node:
    """One node, reached over HTTP/1.1, with this payer's headers made for its billing key."""

    def __init__(self, url: str, seed: bytes):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"node URL {url!r} is not http://host:port")
        self.host, self.port = parts.hostname, parts.port or 80
        self.seed = seed
        self.payer = seed_public(seed)
        self.key: bytes | None = None

    def request(self, path: str, metered: bool) -> tuple[int, bytes, str | None]:
        headers, request_id = {}, None
        if metered:
            headers["p2pcloud-payer"], request_id = payer_header(
                self.seed, self.key, "GET", path, int(time.time() * 1000)
            )
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request("GET", path, headers=headers)
            answer = conn.getresponse()
            return answer.status, answer.read(), request_id
        finally:
            conn.close()

    def json(self, path: str, metered: bool):
        status, data, _ = self.request(path, metered)
        try:
            value = json.loads(data)
        except ValueError:
            raise NodeError(status, "not_json", data[:200].decode("utf-8", "replace")) from None
        if status != 200:
            error = value.get("error", {}) if isinstance(value, dict) else {}
            raise NodeError(status, error.get("code", "?"), error.get("message", ""))
        return value

    def info(self) -> dict:
        info = self.json("/billing/info", False)
        if not HEX64.match(str(info.get("node"))):
            raise NodeError(200, "node_lied", "billing info names no key")
        self.key = bytes.fromhex(info["node"])
        return info

    def read(self, query: str) -> tuple[str, int, int]:
        """One metered GET /get: (request id, status, body bytes received)."""
        status, data, request_id = self.request("/get?" + query, True)
        return request_id, status, len(data)

    def receipts(self, since: int = 0) -> tuple[list, bool, int]:
        """Pages /billing/receipts until complete, holding the node to §6's rules."""
        out, text_size, complete, highest = [], 0, False, since - 1
        for _ in range(MAX_PAGES):
            page = self.json(f"/billing/receipts?since={since}", True)
            if page.get("node") != self.key.hex() or page.get("payer") != self.payer:
                raise NodeError(200, "node_lied", "a page names another node or payer")
            if not isinstance(page.get("receipts"), list) or type(page.get("next")) is not int:
                raise NodeError(200, "node_lied", "a page without receipts and next")
            for receipt in page["receipts"]:
                seq = _seq_of(receipt)
                if seq is None or seq < since:
                    raise NodeError(200, "node_lied", f"a receipt without a seq at or above {since}")
                highest = max(highest, seq)
                text_size += len(json.dumps(receipt, separators=(",", ":"), ensure_ascii=False))
                out.append(receipt)
            if len(out) > MAX_RECEIPTS or text_size > MAX_RECEIPT_TEXT:
                raise NodeError(200, "node_lied", "more receipts than a fetch holds")
            if page.get("complete") is True:
                complete = True
                break
            if page["next"] != highest + 1 or page["next"] <= since:
                raise NodeError(200, "node_lied", f"next {page['next']} after seq {highest}")
            since = page["next"]
        if not complete:
            raise NodeError(200, "node_lied", "no complete answer within the page limit")
        return out, complete, since

    def invoice(self, start: int, end: int) -> dict:
        return self.json(f"/billing/invoice?from={start}&to={end}", True)


def _seq_of(receipt):
    """The seq a receipt claims, read before it is verified (for paging only)."""
    try:
        seq = json.loads(receipt["body"])["seq"]
        return seq if type(seq) is int and 0 <= seq <= MAX_SAFE else None
    except (ValueError, KeyError, TypeError):
        return None


# ---------------------------------------------------------------- runs


def _entries(items) -> dict[str, Entry]:
    return {e["id"]: Entry(e["id"], e["bytes"], e["expires_at"], e["sent_at"]) for e in items}


def run(job: dict) -> dict:
    """A run against a node, or over saved receipts. `job` members:

    payer_seed (hex64); entries ([{id, bytes, expires_at, sent_at}]: what may be billed for
    storage); node (URL; without it, receipts, node_key and period_ms must be given and no
    request is made); reads ([query strings] for metered GET /get, made first); wait_ms (sleep
    after the reads, so their period ends); known_reads ({request id: body bytes} read by
    another client of this payer); receipts (check this saved list instead of fetching);
    node_key (the pinned key, else /billing/info's); skew_ms; now (the payer's clock, ms);
    invoice ({from, to}, or {periods: N, start: "first" | "reads"}: N periods from the first
    receipted one or from the first that bills a read of this run); dump (return the receipts).
    """
    seed = bytes.fromhex(job["payer_seed"])
    node = Node(job["node"], seed) if job.get("node") else None
    if node is None:
        info = {"node": job["node_key"], "receipt_period_ms": job["period_ms"], "prices": None}
    else:
        info = node.info()
    pinned = job.get("node_key") or info["node"]
    if pinned != info["node"]:
        raise NodeError(200, "billing_mismatch", f"node names key {info['node']}, pinned {pinned}")
    reads: dict[str, int] = dict(job.get("known_reads", {}))
    read_log = []
    for query in job.get("reads", []):
        request_id, status, size = node.read(query)
        read_log.append({"request": request_id, "status": status, "bytes": size})
        # Refused requests are not metered (§2.2): a non-2xx read may not be billed.
        if 200 <= status < 300:
            reads[request_id] = size
    if job.get("wait_ms"):
        time.sleep(job["wait_ms"] / 1000)
    if "receipts" in job:
        receipts, complete = job["receipts"], True
    else:
        receipts, complete, _ = node.receipts(0)
    check = Check(
        payer=seed_public(seed),
        node=pinned,
        entries=_entries(job.get("entries", [])),
        reads=reads,
        period_ms=info["receipt_period_ms"],
        now=job.get("now") or int(time.time() * 1000),
        skew_ms=job.get("skew_ms", DEFAULT_SKEW_MS),
    )
    check_receipts(check, receipts, 0, complete)
    result = {
        "payer": check.payer,
        "node_key": pinned,
        "period_ms": info["receipt_period_ms"],
        "reads": read_log,
        "receipts": {
            "received": len(receipts),
            "verified": len(check.verified),
            "v1": sum(1 for r in check.verified.values() if r.v == 1),
            "v2": sum(1 for r in check.verified.values() if r.v == 2),
            "seqs": sorted(check.verified),
        },
        "totals": {
            "stored_byte_ms": str(check.totals[0]),
            "bytes_out": check.totals[1],
            "fuel": check.totals[2],
        },
        "held": check.held,
    }
    wanted = job.get("invoice")
    if wanted:
        start, end = _invoice_range(check, wanted, {r["request"] for r in read_log})
        answer = node.invoice(start, end)
        result["invoice"] = check_invoice(check, answer, start, end, info["prices"])
        result["invoice"].update({"from": start, "to": end})
    result["differences"] = check.differences
    if job.get("dump"):
        result["fetched"] = receipts
    return result


def _invoice_range(check: Check, wanted: dict, own_reads: set[str]) -> tuple[int, int]:
    if "periods" not in wanted:
        return wanted["from"], wanted["to"]
    # An invoice holds at most max_receipts_per_answer receipts (§6): a few periods at a time.
    periods = sorted({r.period for r in check.verified.values()})
    if wanted.get("start") == "reads":
        billing = [
            r.period
            for r in check.verified.values()
            if any(i["k"] == "serve" and i["request"] in own_reads for i in r.body["items"])
        ]
        periods = [p for p in periods if billing and p >= min(billing)]
    periods = periods[: wanted["periods"]]
    if not periods:
        raise ValueError("no verified receipt to make an invoice range of")
    return periods[0][0], periods[-1][1]


def check_vectors(path: str) -> dict:
    """docs/vectors/billing.json: the header, the receipts that verify, those refused."""
    with open(path, encoding="utf-8") as file:
        vectors = json.load(file)
    failures: list[str] = []

    def expect(ok: bool, what: str) -> None:
        if not ok:
            failures.append(what)

    payer_seed = hashlib.sha256(vectors["payer_seed_label"].encode("utf-8")).digest()
    node_seed = hashlib.sha256(vectors["node_seed_label"].encode("utf-8")).digest()
    expect(seed_public(payer_seed) == vectors["payer_public"], "payer public key")
    expect(seed_public(node_seed) == vectors["node_public"], "node public key")
    h = vectors["header"]
    body = h["body_utf8"].encode("utf-8")
    expect(hashlib.sha256(body).hexdigest() == h["body_sha256"], "header body hash")
    node = bytes.fromhex(h["node"])
    message = payer_message(node, h["method"], h["path"], h["t"], body)
    expect(message.hex() == h["message"], "header message")
    header, request_id = payer_header(payer_seed, node, h["method"], h["path"], h["t"], body)
    expect(header == h["header"], "header text")
    expect(request_id == h["request_id"], "request id")

    verified = {}
    for name in ("receipt", "receipt_v2", "receipt_v2_held_only"):
        vector = vectors[name]
        try:
            r = verify_receipt(vector["receipt"])
        except Refused as err:
            failures.append(f"{name} refused: {err}")
            continue
        message = USAGE_DOMAINS[r.v] + lp32(r.body_text.encode("utf-8"))
        expect(message.hex() == vector["message"], f"{name} message")
        expect(r.body_text == vector["body_text"], f"{name} body text")
        sig = Ed25519PrivateKey.from_private_bytes(node_seed).sign(message).hex()
        expect(sig == vector["receipt"]["sig"], f"{name} signature made again")
        verified[name] = r.v

    inv = vectors["invoice"]
    body = json.loads(vectors["receipt"]["body_text"])
    totals = {name: body[name] for name in ("stored_byte_ms", "bytes_out", "fuel")}
    expect(totals == inv["totals"], "invoice totals")
    amount = invoice_amount(inv["totals"], inv["prices"])
    expect(close(amount, inv["amount"]), f"invoice amount {amount} vs {inv['amount']}")
    storage = vectors["invoice_storage"]
    body2 = json.loads(vectors["receipt_v2"]["body_text"])
    expect(storage["totals"]["stored_byte_ms"] == body2["stored_byte_ms"], "storage totals")
    stored_amount = invoice_amount(storage["totals"], storage["prices"])
    expect(
        close(stored_amount, storage["amount"]),
        f"storage invoice amount {stored_amount} vs {storage['amount']}",
    )

    refused = []
    for case in vectors["refuse"]:
        try:
            verify_receipt(case["receipt"])
            failures.append(f"accepted: {case['why']}")
        except Refused as err:
            expect(err.reason == "receipt_invalid", f"{case['why']}: refused as {err.reason}")
            refused.append({"why": case["why"], "reason": err.reason, "text": err.text})
    return {
        "ok": not failures,
        "failures": failures,
        "verified": verified,
        "amount": amount,
        "refused": refused,
    }


def main(argv: list[str]) -> int:
    try:
        if len(argv) == 2 and argv[0] == "--vectors":
            result = check_vectors(argv[1])
        elif not argv:
            result = run(json.load(sys.stdin))
        else:
            print("usage: billing_client.py [--vectors FILE] < job.json", file=sys.stderr)
            return 2
    except (NodeError, ValueError, KeyError, TypeError, OSError) as err:
        print(json.dumps({"error": f"{type(err).__name__}: {err}"}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
