"""Topic tags from the words around a video (title, description, subtitles), with YAKE, a well-kept
unsupervised keyword extractor (no model, no download)."""
from __future__ import annotations


def topic_tags(texts: list[str], top: int = 8, language: str = "en") -> list[tuple[str, float]]:
    """Key phrases of the joined texts with a score in (0, 1], best first."""
    text = "\n".join(t.strip() for t in texts if t and t.strip())
    if not text:
        return []
    import yake

    found = yake.KeywordExtractor(lan=language, n=2, top=top, dedupLim=0.7).extract_keywords(text)
    # YAKE scores are "lower is better" and unbounded; map to (0, 1] for a uniform tag scale
    return [(phrase.lower(), round(1.0 / (1.0 + 10.0 * float(score)), 3)) for phrase, score in found]
