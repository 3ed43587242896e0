"""Similarity between the submissions of a class: who handed in whose code (staff only).

copydetect (MIT) does the work as MOSS does: each module is tokenized by pygments with names,
strings and comments normalized away (`filter_code`), cut into k-grams, and two modules are
alike by the share of their tokens that lie in k-grams both hold. The stubs handed out
(`exercises/`) are boilerplate: k-grams they hold are dropped first, so a submission that
changed nothing has nothing to compare and every pair counts only what the students wrote.

Two things are ours, each for a reason:
- the k-gram hash: copydetect hashes with Python's `hash()`, salted per process, and the tokens
  of a sharded batch are fingerprinted in one process per shard and compared in `merge`; a
  rolling polynomial hash over the token text is the same everywhere;
- the side-by-side page: copydetect's own report compares every file with every other one and
  loads its stylesheet from a CDN; ours shows the flagged pairs only and loads nothing.

A submission is represented by its *tokens* (the normalized text per module: `V`, `F`, `S` in place
of names and strings, no comments), written per shard to `similarity.json`, so `merge` compares a
whole class without the submissions' sources. The class report gets names, scores and module
names only; the code itself is only in the staff page beside the CSV.
"""

from __future__ import annotations

import csv
import functools
import html
import io
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from copydetect import utils as cd

from grader import course
from grader.parent import safe_write
from grader.staff import gradebook, unpack

STUBS_DIR = course.PROJECT_DIR / "exercises"
TOKENS_FILE = "similarity.json"
CSV_FILE = "similarity.csv"
PAGE_FILE = "similarity.html"
SCHEMA = 1
K = 25  # copydetect's noise threshold: shared runs of fewer normalized characters are not counted
WINDOW = 1  # copydetect's default (guarantee = noise threshold): every k-gram is kept, none missed
THRESHOLD = 0.6  # share of one submission's own code found in the other's
MIN_OVERLAP = 150  # normalized characters in common: a few shared lines are not a copy
MAX_BYTES = 256 * 1024  # a module larger than this is not compared (no exercise comes near)
SIDE_BY_SIDE = 40  # pairs shown with their code in the staff page, most alike first
_BASE = np.uint64(1_000_003)


@dataclass(frozen=True)
class Module:
    """One module's fingerprint: the hash of the k-gram at each kept position (stub k-grams dropped)."""

    positions: np.ndarray[Any, np.dtype[np.int64]]  # ascending
    values: np.ndarray[Any, np.dtype[np.int64]]  # the hash at each position
    unique: np.ndarray[Any, np.dtype[np.int64]]  # sorted distinct values
    coverage: int  # characters that lie in some kept k-gram

    @property
    def hashes(self) -> frozenset[int]:
        return frozenset(self.unique.tolist())


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    score: float  # the larger of the two shares
    share_a: float  # share of a's own code (outside the stubs) that b also has
    share_b: float
    overlap: int  # normalized characters in common, over all modules
    modules: tuple[tuple[str, float], ...]  # (module, the larger share within it), most alike first


@functools.lru_cache(maxsize=4096)
def tokens_of(source: str, module: str) -> str:
    """The normalized token text copydetect compares (names, strings and comments replaced or dropped).

    Cached by content: an unchanged stub, handed in by every student who skipped an exercise, is lexed once.
    """
    filtered, _ = cd.filter_code(source, f"{module}.py", "python")
    return str(filtered)


def read_source(path: Path) -> str | None:
    """A module's text; None for a link, a non-file, a huge file or one that is not UTF-8 (it costs its owner only)."""
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_BYTES:
            return None
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def read_tokens(directory: Path, modules: Sequence[str]) -> dict[str, str]:
    """The tokens of each of `modules` that `directory` holds as a readable module."""
    found: dict[str, str] = {}
    for module in modules:
        source = read_source(directory / f"{module}.py")
        if source is not None:
            found[module] = tokens_of(source, module)
    return found


def _hashes(text: str) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Every k-gram's rolling hash (the same in every process, unlike copydetect's `hash()`)."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    n = len(codes) - K + 1
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    acc = np.zeros(n, dtype=np.uint64)
    for offset in range(K):
        acc = acc * _BASE + codes[offset : offset + n]
    return acc.view(np.int64)


def _union(starts: np.ndarray[Any, np.dtype[np.int64]]) -> int:
    """Characters covered by k-grams starting at `starts` (ascending): the length of copydetect's copied slices."""
    if len(starts) == 0:
        return 0
    return int(np.minimum(np.diff(starts), K).sum()) + K


def fingerprint(text: str, boilerplate: frozenset[int] = frozenset()) -> Module:
    selected, index = cd.winnow(_hashes(text), WINDOW, remove_duplicates=False)
    values = np.asarray(selected, dtype=np.int64)
    positions = np.asarray(index, dtype=np.int64)
    if boilerplate:
        keep = ~np.isin(values, np.fromiter(boilerplate, dtype=np.int64, count=len(boilerplate)))
        values, positions = values[keep], positions[keep]
    order = np.argsort(positions, kind="stable")
    positions, values = positions[order], values[order]
    return Module(positions, values, np.unique(values), _union(positions))


def stub_hashes(modules: Iterable[str], stubs: Path = STUBS_DIR) -> dict[str, frozenset[int]]:
    return {m: fingerprint(t).hashes for m, t in read_tokens(stubs, list(modules)).items()}


def overlap(one: Module, other: Module) -> tuple[int, int]:
    """Characters of each module that lie in k-grams both hold (copydetect's token overlap, vectorized)."""
    if len(one.unique) == 0 or len(other.unique) == 0:
        return 0, 0
    in_one = one.positions[_member(one.values, other.unique)]
    if len(in_one) == 0:
        return 0, 0
    in_other = other.positions[_member(other.values, one.unique)]
    return _union(in_one), _union(in_other)


def _member(values: np.ndarray[Any, np.dtype[np.int64]], unique: np.ndarray[Any, np.dtype[np.int64]]) -> Any:
    """Which of `values` are in the sorted `unique` (np.isin without its sorting, which dominated the cost)."""
    at = np.minimum(np.searchsorted(unique, values), len(unique) - 1)
    return unique[at] == values


def compare(tokens: Mapping[str, Mapping[str, str]], stubs: Mapping[str, frozenset[int]]) -> list[Pair]:
    """Every pair of submissions more alike than the stubs explain, most alike first."""
    # The same text is one fingerprint (a class hands in many identical modules: stubs, shared copies).
    distinct: dict[tuple[str, str], Module] = {}
    prints = {
        name: {
            m: distinct.setdefault((m, t), fingerprint(t, stubs.get(m, frozenset())))
            if (m, t) not in distinct
            else distinct[(m, t)]
            for m, t in sorted(modules.items())
        }
        for name, modules in sorted(tokens.items())
    }
    own = {name: sum(p.coverage for p in mods.values()) for name, mods in prints.items()}
    names = sorted(prints)
    candidates: dict[tuple[str, str], list[str]] = {}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            shared = [m for m, fp in prints[a].items() if m in prints[b] and fp.coverage and prints[b][m].coverage]
            if shared:
                candidates[(a, b)] = shared
    pairs: list[Pair] = []
    for (a, b), modules in candidates.items():
        in_a = in_b = 0
        per_module: list[tuple[str, float]] = []
        for module in modules:
            fa, fb = prints[a][module], prints[b][module]
            oa, ob = (fa.coverage, fa.coverage) if fa is fb else overlap(fa, fb)
            in_a, in_b = in_a + oa, in_b + ob
            share = max(oa / fa.coverage if fa.coverage else 0.0, ob / fb.coverage if fb.coverage else 0.0)
            if oa:
                per_module.append((module, round(share, 3)))
        share_a = in_a / own[a] if own[a] else 0.0
        share_b = in_b / own[b] if own[b] else 0.0
        score = max(share_a, share_b)
        if score >= THRESHOLD and min(in_a, in_b) >= MIN_OVERLAP:
            ordered = tuple(sorted(per_module, key=lambda m: (-m[1], m[0])))
            pairs.append(Pair(a, b, round(score, 3), round(share_a, 3), round(share_b, 3), min(in_a, in_b), ordered))
    return sorted(pairs, key=lambda p: (-p.score, p.a, p.b))


def clusters(pairs: Iterable[Pair]) -> list[tuple[str, ...]]:
    """Groups of submissions linked by flagged pairs (each of 2 or more), largest first."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for p in pairs:
        parent[root(p.a)] = root(p.b)
    groups: dict[str, list[str]] = defaultdict(list)
    for name in parent:
        groups[root(name)].append(name)
    return sorted((tuple(sorted(g)) for g in groups.values()), key=lambda g: (-len(g), g))


def write_tokens(path: Path, tokens: Mapping[str, Mapping[str, str]]) -> None:
    data = {"schema": SCHEMA, "k": K, "submissions": {n: dict(m) for n, m in sorted(tokens.items())}}
    safe_write.write_text(path, json.dumps(data, indent=1, sort_keys=True) + "\n")


def load_tokens(path: Path) -> dict[str, dict[str, str]]:
    """A shard's tokens; ValueError naming the file when it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("schema") != SCHEMA or data.get("k") != K:
            raise ValueError(f"schema {data.get('schema')!r}, k {data.get('k')!r}; expected {SCHEMA}, {K}")
        return {str(n): {str(m): str(t) for m, t in mods.items()} for n, mods in data["submissions"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path}: not the similarity tokens of a batch ({exc})") from None


def write_csv(pairs: Sequence[Pair], path: Path) -> None:
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(["a", "b", "score", "share_a", "share_b", "overlap", "modules"])
    for p in pairs:
        writer.writerow(
            [
                gradebook.safe_cell(p.a),
                gradebook.safe_cell(p.b),
                f"{p.score:.3f}",
                f"{p.share_a:.3f}",
                f"{p.share_b:.3f}",
                p.overlap,
                " ".join(f"{m}:{s:.2f}" for m, s in p.modules),
            ]
        )
    safe_write.write_text(path, text.getvalue())


def _highlighted(source: str, module: str, other: str, boilerplate: frozenset[int]) -> tuple[str, str]:
    """Both sources as escaped HTML with the shared code marked (copydetect's slices and highlighter)."""
    located = [_located(text, module, boilerplate) for text in (source, other)]
    out = []
    for (fp, offsets, raw), (theirs, _, _) in zip(located, located[::-1], strict=True):
        starts = fp.positions[_member(fp.values, theirs.unique)] if len(theirs.unique) else fp.positions[:0]
        if len(starts) == 0:
            out.append(html.escape(raw))
            continue
        slices = cd.get_copied_slices(starts, K)
        if len(offsets):  # from the normalized text back to the source (as copydetect's compare_files does)
            slices += offsets[:, 1][np.clip(np.searchsorted(offsets[:, 0], slices), 0, offsets.shape[0] - 1)]
        marked, _ = cd.highlight_overlap(raw, slices, "<mark>", "</mark>", escape_html=True)
        out.append(str(marked))
    return out[0], out[1]


@functools.lru_cache(maxsize=1024)
def _located(source: str, module: str, boilerplate: frozenset[int]) -> tuple[Module, Any, str]:
    """Cached by content: a module shown in many flagged pairs is lexed once, not once per pair (read only)."""
    filtered, offsets = cd.filter_code(source, f"{module}.py", "python")
    return fingerprint(str(filtered), boilerplate), offsets, source


_PAGE_CSS = (
    "body{font-family:system-ui,sans-serif;margin:1.5rem}pre{white-space:pre-wrap;font-size:.8rem;margin:0}"
    "table{border-collapse:collapse;width:100%;table-layout:fixed}td,th{border:1px solid #ccc;vertical-align:top;"
    "padding:.3rem}mark{background:#ffd27a}h2{margin-top:2rem}"
)


def write_page(
    pairs: Sequence[Pair], sources: Mapping[str, Path], stubs: Mapping[str, frozenset[int]], path: Path, title: str
) -> int:
    """The staff page: each flagged pair's shared modules side by side, shared code marked. Pairs shown."""
    parts = [
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>',
        f"<style>{_PAGE_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
        f"<p>Staff only: this page holds students' code. {len(pairs)} pair(s) flagged; the {SIDE_BY_SIDE} most "
        "alike are shown. Code in the stubs handed out is not marked.</p>",
    ]
    shown = 0
    for p in pairs[:SIDE_BY_SIDE]:
        if p.a not in sources or p.b not in sources:
            continue
        shown += 1
        parts.append(
            f"<h2>{html.escape(p.a)} and {html.escape(p.b)}: {100 * p.score:.0f}% "
            f"({100 * p.share_a:.0f}% of {html.escape(p.a)}, {100 * p.share_b:.0f}% of {html.escape(p.b)})</h2>"
        )
        for module, share in p.modules:
            one = read_source(sources[p.a] / f"{module}.py")
            two = read_source(sources[p.b] / f"{module}.py")
            if one is None or two is None:
                continue
            left, right = _highlighted(one, module, two, stubs.get(module, frozenset()))
            parts.append(
                f"<h3>{html.escape(module)}.py: {100 * share:.0f}%</h3><table><tr><th>{html.escape(p.a)}</th>"
                f"<th>{html.escape(p.b)}</th></tr><tr><td><pre>{left}</pre></td><td><pre>{right}</pre></td></tr></table>"
            )
    parts.append("</body></html>\n")
    safe_write.write_text(path, "\n".join(parts))
    return shown


@dataclass(frozen=True)
class Result:
    pairs: list[Pair]
    clusters: list[tuple[str, ...]]
    page: Path | None  # the side-by-side staff page, when the sources were at hand


def collect(
    entries: Sequence[gradebook.Entry], modules: Sequence[str], workdir: Path
) -> tuple[dict[str, dict[str, str]], dict[str, Path]]:
    """Each gradable entry's tokens and the folder its modules are in (zips are extracted under `workdir`)."""
    tokens: dict[str, dict[str, str]] = {}
    sources: dict[str, Path] = {}
    for i, entry in enumerate(entries):
        place = workdir / str(i)
        place.mkdir(parents=True)
        try:
            directory = unpack.prepare(entry.path, place)
        except (unpack.UnpackError, OSError):
            continue  # an invalid submission has its row; it has nothing to compare
        tokens[entry.name] = read_tokens(directory, modules)
        sources[entry.name] = directory
    return tokens, sources


def analyse(
    tokens: Mapping[str, Mapping[str, str]],
    modules: Sequence[str],
    out: Path,
    *,
    sources: Mapping[str, Path] | None,
    title: str,
) -> Result:
    """Compare, write similarity.csv (and the side-by-side page when `sources` are given) into `out`."""
    stubs = stub_hashes(modules)
    pairs = compare(tokens, stubs)
    write_csv(pairs, out / CSV_FILE)
    page = None
    if sources is not None:
        page = out / PAGE_FILE
        write_page(pairs, sources, stubs, page, title)
    return Result(pairs, clusters(pairs), page)
