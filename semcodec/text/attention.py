"""Cross-attention from words to regions: which labelled region of a frame does a line of text talk about?

Queries are phrase embeddings of the text (its clauses and content words, MiniLM, with spatial words
such as "on the left" taken out and kept as a direction); keys are the regions the analyzers found in
the frame, each embedded through a few descriptions of its label ("a face", "a man", ... for a face
box; "a car" for a YOLO car), values are the regions' boxes. Scaled dot-product attention:

    logits[q, r] = max_d <q, k[r, d]> / T + spatial_bias[q, r]        (T = temperature)
    A = softmax(logits, over regions);  attended[q] = A[q] @ V

`spatial_bias` moves attention toward boxes in the named part of the frame ("the man on the left").
The softmax only says which region a phrase prefers; whether the phrase names any region at all is
decided by the absolute similarity: a gate that is 0 below `gate_low` (unrelated words and absent
things: "a giraffe" against faces scores about 0.3) and 1 above `gate_high`. A region's boost is its
attention relative to the phrase's best region (so "the faces" lifts every face, not a third of each),
times the gate, and the strongest phrase wins.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

TEMPERATURE = 0.05
GATE_LOW, GATE_HIGH = 0.45, 0.62
SPATIAL_BIAS = 0.15  # in cosine units (x 1/T in logits): a box at the named edge vs the frame centre
DESCRIPTORS = {
    "face": ["a face", "a person's face", "a man", "a woman", "a person", "people"],
    "person": ["a person", "a man", "a woman", "people", "a child"],
    "text": ["text on screen", "a caption", "a title", "a sign", "written words"],
}
STOPWORDS = set("""a an the this that these those there here is are was were be been being am do does did
have has had i you he she it we they me him her us them my your his its our their mine yours what which who
whom whose when where why how not no yes oh ah uh um hey okay ok so and but or if then than too very just
all any some of in on at to for from by with about as into over under up down out off again once can could
will would shall should may might must let lets don't can't won't i'm you're he's she's it's we're they're
that's there's what's who's i've you've we've they've i'll you'll he'll she'll we'll they'll i'd you'd
he'd she'd we'd they'd isn't aren't wasn't weren't didn't doesn't haven't hasn't hadn't now well like get
got go going gonna wanna tell said say says know think see look come came make made one two also really
right left top bottom middle centre center side upper lower somebody someone anybody anyone everybody
everyone nobody something anything everything nothing thing things way time yeah""".split())

_DIRS = {"left": "left", "leftmost": "left", "right": "right", "rightmost": "right", "top": "top",
         "upper": "top", "above": "top", "bottom": "bottom", "lower": "bottom", "below": "bottom",
         "middle": "centre", "centre": "centre", "center": "centre", "central": "centre"}
_DIR_WORDS = "|".join(sorted(_DIRS, key=len, reverse=True))
_SPATIAL_PP = re.compile(rf"\b(?:on|to|at|in|from|near)\s+(?:the\s+)?(?:far\s+|very\s+)?({_DIR_WORDS})"
                         rf"(?:\s+(?:side|corner|edge|half|part))?(?:\s+of\s+the\s+(?:frame|screen|picture|image|shot))?\b",
                         re.I)
_NOT_NOUN = set("now away here there back after before then the a an it me you him her us them off out up down "
                "over behind alone and or but to of in on at with is was".split())
_SPATIAL_ADJ = re.compile(rf"\b({_DIR_WORDS})\s+([a-z][a-z']*)", re.I)
_CLAUSE = re.compile(r"[,.;:!?()\[\]\"\u2014\u2013]+|\s-\s|\b(?:and|but|or|while|then|with|as)\b", re.I)
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
MAX_CLAUSES, MAX_WORDS = 8, 12


@dataclass
class Query:
    text: str  # what is embedded
    phrase: str  # where it came from, for the report
    directions: tuple = ()  # spatial words that go with it: left/right/top/bottom/centre


def descriptors(label: str) -> list[str]:
    words = label.replace("_", " ").strip().lower()
    if words in DESCRIPTORS:
        return DESCRIPTORS[words]
    art = "an" if words[:1] in "aeiou" else "a"
    return [f"{art} {words}", f"{words}s" if not words.endswith("s") else words]


def _directions(clause: str) -> tuple[tuple, str]:
    """Spatial words of a clause and the clause without them."""
    dirs = []

    def pp(m):
        dirs.append(_DIRS[m.group(1).lower()])
        return " "

    rest = _SPATIAL_PP.sub(pp, clause)

    def adj(m):
        if m.group(2).lower() in _NOT_NOUN:
            return m.group(0)
        dirs.append(_DIRS[m.group(1).lower()])
        return m.group(2)

    rest = _SPATIAL_ADJ.sub(adj, rest)
    return tuple(dict.fromkeys(dirs)), " ".join(rest.split())


def queries(text: str) -> list[Query]:
    """Phrase queries of a line: each clause (spatial words removed, kept as directions) and each
    content word of it ("the car" for 'car'), deduplicated."""
    out: dict[str, Query] = {}
    clauses = [c.strip() for c in _CLAUSE.split(text) if c and c.strip()]
    for clause in clauses[:MAX_CLAUSES]:
        dirs, semantic = _directions(clause)
        words = [w.lower() for w in _WORD.findall(semantic)]
        content = [w for w in words if w not in STOPWORDS and len(w) > 2 and "'" not in w]
        if not content:
            continue
        if semantic.lower() not in out:
            out[semantic.lower()] = Query(semantic, clause, dirs)
        if len(words) > 1:
            for w in content[:MAX_WORDS]:
                key = f"the {w}"
                if key not in out:
                    out[key] = Query(key, clause, dirs)
    return list(out.values())


def spatial_preference(boxes: np.ndarray, direction: str) -> np.ndarray:
    """How much each box (x0, y0, x1, y1, normalised) lies toward `direction`, in [-1, 1]: half the
    absolute position in the frame, half the rank among the boxes (the leftmost of three faces on
    the right half is still 'the one on the left')."""
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2

    def both(v):  # v: coordinate where larger = more toward the direction
        absolute = 2 * v - 1
        spread = v.max() - v.min() if len(v) > 1 else 0.0
        rel = 2 * (v - v.min()) / spread - 1 if spread > 0.05 else absolute
        return 0.5 * absolute + 0.5 * rel

    if direction == "left":
        return both(1 - cx)
    if direction == "right":
        return both(cx)
    if direction == "top":
        return both(1 - cy)
    if direction == "bottom":
        return both(cy)
    d = np.sqrt((cx - 0.5) ** 2 + (cy - 0.5) ** 2) / np.sqrt(0.5)  # centre
    return both(1 - d)


@dataclass
class Attention:
    """One text item against one frame's regions."""

    queries: list  # Query
    regions: list  # Region
    weights: np.ndarray  # (n_q, n_r) softmax attention
    similarity: np.ndarray  # (n_q, n_r) cosine of the best-matching descriptor
    gate: np.ndarray  # (n_q, n_r)
    boost: np.ndarray  # (n_r,) in [0, 1]
    attended_box: np.ndarray  # (n_q, 4): attention-weighted box per query (the values' output)
    best_query: list = field(default_factory=list)  # per region: index of the query that boosted it

    def to_json(self, top: int = 8) -> dict:
        regs = []
        order = np.argsort(-self.boost)[:top] if len(self.regions) else []
        for r in order:
            q = self.best_query[r]
            regs.append({"label": self.regions[r].label, "box": [round(float(v), 3) for v in self.regions[r].box],
                         "boost": round(float(self.boost[r]), 3), "weight": round(float(self.weights[q, r]), 3),
                         "similarity": round(float(self.similarity[q, r]), 3), "query": self.queries[q].text})
        qs = []
        for q, query in enumerate(self.queries):
            r = int(np.argmax(self.weights[q])) if len(self.regions) else None
            qs.append({"phrase": query.text, "directions": list(query.directions),
                       "best_region": None if r is None else self.regions[r].label,
                       "best_similarity": None if r is None else round(float(self.similarity[q].max()), 3),
                       "gate": None if r is None else round(float(self.gate[q].max()), 3)})
        return {"regions": regs, "queries": qs}


class RegionAttention:
    def __init__(self, embedder, temperature: float = TEMPERATURE, gate_low: float = GATE_LOW,
                 gate_high: float = GATE_HIGH, spatial_bias: float = SPATIAL_BIAS):
        import torch

        self.torch = torch
        self.embedder = embedder
        self.scale = 1.0 / temperature
        self.gate_low, self.gate_high = gate_low, gate_high
        self.spatial_bias = spatial_bias
        self._label_keys: dict[str, np.ndarray] = {}

    def encode_queries(self, qs: list[Query]) -> np.ndarray:
        return self.embedder([q.text for q in qs])

    def label_keys(self, label: str) -> np.ndarray:
        if label not in self._label_keys:
            self._label_keys[label] = self.embedder(descriptors(label))
        return self._label_keys[label]

    def __call__(self, qs: list[Query], q_emb: np.ndarray, regions: list) -> Attention:
        torch = self.torch
        n_q, n_r = len(qs), len(regions)
        if n_q == 0 or n_r == 0:
            z = np.zeros((n_q, n_r), np.float32)
            return Attention(qs, regions, z, z, z, np.zeros(n_r, np.float32), np.zeros((n_q, 4), np.float32),
                             [0] * n_r)
        keys, owner = [], []
        for r, reg in enumerate(regions):
            k = self.label_keys(reg.label)
            keys.append(k)
            owner.extend([r] * len(k))
        q = torch.from_numpy(np.ascontiguousarray(q_emb, dtype=np.float32))  # (n_q, d)
        k = torch.from_numpy(np.concatenate(keys).astype(np.float32))  # (n_keys, d)
        boxes = np.array([r.box for r in regions], np.float32).reshape(n_r, 4)
        v = torch.from_numpy(boxes)  # values: the regions' boxes
        owner_t = torch.tensor(owner).expand(n_q, -1)
        dots = q @ k.T  # (n_q, n_keys) cosine: rows of q and k are unit vectors
        # a region's key for a query is its best-matching descriptor (max-pool over descriptors)
        sim = torch.full((n_q, n_r), -1.0).scatter_reduce(1, owner_t, dots, reduce="amax", include_self=False)
        bias = torch.zeros(n_q, n_r)
        for i, query in enumerate(qs):
            for d in query.directions:
                bias[i] += torch.from_numpy(spatial_preference(boxes, d).astype(np.float32)) \
                    * self.spatial_bias / len(query.directions)
        logits = (sim + bias) * self.scale  # scaled dot product (+ positional bias)
        weights = torch.softmax(logits, dim=-1)
        attended = weights @ v
        gate = ((sim - self.gate_low) / (self.gate_high - self.gate_low)).clamp(0, 1)
        rel = weights / weights.max(dim=-1, keepdim=True).values
        per_q = rel * gate  # (n_q, n_r)
        boost, best = per_q.max(dim=0)
        return Attention(qs, regions, weights.numpy(), sim.numpy(), gate.numpy(), boost.numpy(),
                         attended.numpy(), best.tolist())
