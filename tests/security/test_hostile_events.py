"""Hostile ``video.generated/v1`` events: the parser either returns a valid, storable event or
raises :class:`PoisonEvent` (what the worker dead-letters); nothing else may escape. Then the
same payloads through a real worker process and broker: they land in the DLQ and the worker goes
on to decide a good event behind them.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fgtest import WorkerProcess, event, read_topics, wait_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka import KafkaProducer

from safety.events import DeadLetter, VideoGenerated
from safety.store import Database, Video
from safety.store.repository import _video_row
from streams.serde import MAX_EVENT_BYTES, PoisonEvent, encode, parse_event
from streams.topics import DEAD_LETTERS, OUTCOME_TOPICS, VIDEOS_GENERATED


def fuzz(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
            HealthCheck.large_base_example,
        ],
    )


def valid() -> dict[str, Any]:
    return event("v-fuzz", "file:///media/v.mp4")


def dump(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def parse_or_poison(raw: bytes | None) -> VideoGenerated | PoisonEvent:
    """The property: the only ways out are a valid event or PoisonEvent (any other exception
    propagates and fails the test). A poison must also make a dead letter the worker can send."""
    try:
        ev = parse_event(raw)
    except PoisonEvent as exc:
        assert str(exc)
        letter = DeadLetter(  # built exactly as streams.dead_letters.for_record builds it
            error=str(exc)[:4000],
            error_type=type(exc).__name__,
            source_topic=VIDEOS_GENERATED,
            source_partition=0,
            source_offset=0,
            key_b64=None,
            value_b64=base64.b64encode(raw or b"").decode(),
            attempts=1,
            failed_at=datetime.now(UTC),
        )
        assert json.loads(encode(letter))["error"] == letter.error
        return exc
    assert isinstance(ev, VideoGenerated)
    assert_storable(ev)
    return ev


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def assert_storable(ev: VideoGenerated) -> None:
    """What PostgreSQL will need: UTF-8 text without NUL, an instant it can represent."""
    for s in _strings(ev.model_dump(mode="json", by_alias=True)):
        s.encode("utf-8")
        assert "\x00" not in s
    if ev.created_at.tzinfo is not None:
        ev.created_at.astimezone(UTC)
    assert parse_event(encode(ev)) == ev  # what we accepted re-parses to itself


# --------------------------------------------------------------------------- strategies

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
# Every character, surrogate halves and NUL included (json.dumps escapes them as \uXXXX).
hostile_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=64) | st.sampled_from(
    ["\x00", "a\x00b", "\ud800", "\udfff\ud800", "\u202e", "\ufeff", "' OR 1=1 --", "../../etc/passwd"]
)
FIELDS = ["schema", "video_id", "creator", "prompt", "uri", "cameos", "remix_of", "created_at", "generator"]
STRING_FIELDS = ["video_id", "prompt", "uri", "remix_of", "generator", "creator.id", "cameos.0"]


def _set(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    head, _, rest = path.partition(".")
    if not rest:
        doc[head] = value
    elif head == "cameos":
        doc["cameos"] = [value]
    else:
        doc[head] = {**doc[head], rest: value}
    return doc


# --------------------------------------------------------------------------- properties


@fuzz(150)
@given(st.binary(max_size=600))
def test_random_bytes(raw: bytes) -> None:
    parse_or_poison(raw)


@fuzz(150)
@given(json_values)
def test_arbitrary_json_documents(doc: Any) -> None:
    assert isinstance(parse_or_poison(dump(doc)), PoisonEvent)  # none of these is an event


@fuzz(200)
@given(st.sampled_from([*FIELDS, "creator.id", "creator.age_band"]), json_values, st.booleans())
def test_wrong_types_in_every_field(field: str, value: Any, delete: bool) -> None:
    doc = valid()
    if delete and "." not in field:
        doc.pop(field, None)
    else:
        _set(doc, field, value)
    parse_or_poison(dump(doc))


@fuzz(200)
@given(st.sampled_from(STRING_FIELDS), hostile_text, st.booleans())
def test_hostile_characters_in_string_fields(field: str, text: str, ascii_only: bool) -> None:
    raw = json.dumps(_set(valid(), field, text), ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    result = parse_or_poison(raw)
    if "\x00" in text or any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        assert isinstance(result, PoisonEvent)


@fuzz(40)
@given(
    st.sampled_from(["prompt", "uri", "video_id", "creator.id", "generator", "(whole)", "(key)"]),
    st.integers(min_value=1_000, max_value=MAX_EVENT_BYTES + 50_000),
)
def test_huge_strings(where: str, n: int) -> None:
    doc = valid()
    if where == "(whole)":
        raw = b'"' + b"x" * n + b'"'
    elif where == "(key)":
        doc["x" * n] = 1
        raw = dump(doc)
    else:
        raw = dump(_set(doc, where, "y" * n))
    result = parse_or_poison(raw)
    if len(raw) > MAX_EVENT_BYTES:
        assert isinstance(result, PoisonEvent) and "limit" in str(result)


@fuzz(60)
@given(
    st.integers(min_value=1, max_value=200_000),
    st.sampled_from(["[", '{"a":']),
    st.sampled_from(["(whole)", "prompt", "creator", "extra"]),
)
def test_deep_nesting(depth: int, opener: str, where: str) -> None:
    closer = "]" if opener == "[" else "}"
    nested = opener * depth + "1" + closer * depth
    if where == "(whole)":
        text = nested
    else:
        base = json.dumps(valid())
        text = base[:-1] + f', "{where}": {nested}' + "}"  # a later key wins in json.loads
    result = parse_or_poison(text.encode())
    if depth > 40:
        assert isinstance(result, PoisonEvent)


INVALID_UTF8 = [
    b"\xff",
    b"\xfe\xff",
    b"\xc0\x80",
    b"\xed\xa0\x80",
    b"\xf8\x88\x80\x80\x80",
    b"\xe2\x82",
    b"\x80",
]


@fuzz(80)
@given(st.sampled_from(INVALID_UTF8), st.floats(min_value=0.0, max_value=1.0))
def test_invalid_utf8_anywhere(bad: bytes, where: float) -> None:
    raw = dump(valid())
    cut = int(where * len(raw))
    result = parse_or_poison(raw[:cut] + bad + raw[cut:])
    assert isinstance(result, PoisonEvent)


@fuzz(40)
@given(st.integers(min_value=4_000, max_value=200_000), st.sampled_from(["prompt", "extra", "cameos"]))
def test_huge_integer_literals(digits: int, field: str) -> None:
    """Valid JSON that json.loads refuses with a plain ValueError (int digit limit)."""
    base = json.dumps(valid())
    raw = (base[:-1] + f', "{field}": ' + "7" * digits + "}").encode()
    parse_or_poison(raw)


@fuzz(150)
@given(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
    st.one_of(st.none(), st.integers(min_value=-14 * 60, max_value=14 * 60)),
)
def test_extreme_timestamps(when: datetime, offset_min: int | None) -> None:
    stamp = when.isoformat()
    if offset_min is not None:
        sign = "+" if offset_min >= 0 else "-"
        stamp += f"{sign}{abs(offset_min) // 60:02d}:{abs(offset_min) % 60:02d}"
    parse_or_poison(dump({**valid(), "created_at": stamp}))


def test_known_poison_examples() -> None:
    """Regressions found by the properties above, pinned so they never come back."""
    base = valid()
    cases = {
        "int over the digit limit": (json.dumps(base)[:-1] + ', "n": ' + "1" * 5000 + "}").encode(),
        "NUL in prompt": dump({**base, "prompt": "a\x00b"}),
        "NUL in creator id": dump({**base, "creator": {"id": "\x00", "age_band": "adult"}}),
        "NUL in a cameo": dump({**base, "cameos": ["ok", "x\x00"]}),
        "after year 9999 in UTC": dump({**base, "created_at": "9999-12-31T23:59:59-14:00"}),
        "before year 1 in UTC": dump({**base, "created_at": "0001-01-01T00:00:00+14:00"}),
        "tombstone": None,
    }
    for name, raw in cases.items():
        assert isinstance(parse_or_poison(raw), PoisonEvent), name


@fuzz(60)
@given(
    prompt=hostile_text,
    creator=hostile_text.filter(lambda s: 0 < len(s) <= 128),
    offset=st.integers(min_value=-14 * 60, max_value=14 * 60),
    year=st.sampled_from([1, 2, 1970, 2038, 9999]),
)
def test_whatever_parses_can_be_recorded_in_postgres(
    pg_db: Database, prompt: str, creator: str, offset: int, year: int
) -> None:
    """The parser's promise is only worth something if the worker can then record the event:
    a parsed event that PostgreSQL refuses would be retried (a database error) forever."""
    sign = "+" if offset >= 0 else "-"
    doc = {
        **valid(),
        "video_id": f"v-{uuid.uuid4().hex}",
        "prompt": prompt,
        "creator": {"id": creator, "age_band": "adult"},
        "created_at": f"{year:04d}-06-15T12:00:00{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}",
    }
    result = parse_or_poison(json.dumps(doc).encode("utf-8", "surrogatepass"))
    if isinstance(result, PoisonEvent):
        return
    with pg_db.session() as s:
        s.add(_video_row(result))
        s.commit()
    with pg_db.session() as s:
        stored = s.get(Video, result.video_id)
        assert stored is not None and stored.prompt == result.prompt and stored.creator_id == creator
        assert stored.created_at == result.created_at


# --------------------------------------------------------------------------- broker


def test_poison_payloads_are_dead_lettered_and_the_worker_keeps_going(
    broker: str, pg_url: str, tmp_path: Path, videos: dict[str, Path], video_root: Path
) -> None:
    base = valid()
    bad: list[bytes | None] = [
        bytes(range(256)) * 3,  # random bytes
        b"\xff\xfe{}",  # invalid UTF-8
        ("[" * 100_000 + "]" * 100_000).encode(),  # deeper than the C parser's recursion
        (json.dumps(base)[:-1] + ', "n": ' + "9" * 10_000 + "}").encode(),  # int digit limit
        dump({**base, "video_id": "v-nul", "prompt": "hello\x00world"}),  # PostgreSQL refuses NUL
        dump({**base, "video_id": "v-y10k", "created_at": "9999-12-31T23:59:59-14:00"}),  # year 10000
        dump({**base, "video_id": 7, "creator": "me", "cameos": {"a": 1}}),  # wrong types
        None,  # a tombstone
    ]
    producer = KafkaProducer(bootstrap_servers=broker, acks="all")
    try:
        for raw in bad:  # one key: one partition, in order, with the good event last
            producer.send(VIDEOS_GENERATED, key=b"hostile", value=raw)
        good = event("v-after-poison", videos["plain"].resolve().as_uri())
        producer.send(VIDEOS_GENERATED, key=b"hostile", value=dump(good))
        producer.flush()
    finally:
        producer.close()

    worker = WorkerProcess(broker, pg_url, tmp_path, video_root, group="fg-hostile")
    try:
        letters = read_topics(broker, [DEAD_LETTERS], until=len(bad), timeout_s=90)
        outcomes = read_topics(broker, OUTCOME_TOPICS, until=1, timeout_s=60, quiet_s=0.5)
        assert worker.proc.poll() is None, f"the worker died:\n{worker.log()[-3000:]}"
    finally:
        worker.stop()
    assert len(letters) == len(bad), worker.log()[-3000:]
    assert all(m.value["error_type"] == "PoisonEvent" and m.value["attempts"] == 1 for m in letters)
    got = sorted(base64.b64decode(m.value["value_b64"]) for m in letters)
    assert got == sorted(raw or b"" for raw in bad)
    assert [m.key for m in outcomes] == ["v-after-poison"]
    assert "Traceback" not in worker.log()
    wait_for(lambda: worker.proc.returncode is not None, 5, what="worker exit")
    assert worker.proc.returncode == 0


def test_an_oversized_poison_event_does_not_crash_the_worker(
    broker: str, pg_url: str, tmp_path: Path, videos: dict[str, Path], video_root: Path
) -> None:
    producer = KafkaProducer(bootstrap_servers=broker, acks="all", max_request_size=8 * 1024 * 1024)
    try:
        producer.send(VIDEOS_GENERATED, key=b"big", value=b"x" * 1_600_000)
        good = event("v-after-big", videos["plain"].resolve().as_uri())
        producer.send(VIDEOS_GENERATED, key=b"big", value=dump(good))
        producer.flush()
    finally:
        producer.close()
    worker = WorkerProcess(broker, pg_url, tmp_path, video_root, group="fg-oversized")
    try:

        def settled() -> str | None:
            log = worker.log()
            if worker.proc.poll() is not None or "Traceback" in log:
                return "the worker crashed"  # (a crashed worker may hang in its Kafka threads)
            if "MessageSizeTooLargeError" in log:
                return "the dead letter could not be sent"  # the event is retried, the partition stalls
            return "decided" if read_topics(broker, OUTCOME_TOPICS, until=1, timeout_s=1.0) else None

        state = wait_for(settled, timeout_s=90, what="a decision or the worker's death")
    finally:
        worker.stop()
    assert state == "decided", worker.log()[-2000:]
    (letter,) = read_topics(broker, [DEAD_LETTERS], until=1, timeout_s=10)
    assert letter.value["error_type"] == "PoisonEvent" and "limit" in letter.value["error"]
