"""The slow LLaMA tokenizer of transformers 4.31 (legacy mode), on `sentencepiece` directly.

InteractVLM was trained and is run with that tokenizer; transformers 5's LlamaTokenizer gives other
ids on the same files (a space before added tokens, the newline after `<im_end>` kept, words split
differently), which moves the predicted contact a lot. The behaviour reproduced here:

1. The text is split at every added token (added_tokens.json: [SEG], <im_start>, ...) and at
   `<s>`, `</s>`, `<unk>`, the longest match first.
2. Next to an added token, all whitespace (newlines too) is stripped from the end of the chunk
   before it and from the start of the chunk after it; `<s>`, `</s>`, `<unk>` strip nothing.
3. Every non-empty text chunk is encoded on its own by SentencePiece, so each gets the dummy
   prefix `▁`; added tokens map to their ids, `<s>`/`</s>`/`<unk>` to SentencePiece's.
4. bos is prepended once per call.

`tokenizer_image_token` then tokenizes the chunks around `<image>` separately (each with bos),
keeps the first chunk whole, puts the image placeholder (-200) between chunks and drops the bos of
the following ones.
"""

import json
import re
from pathlib import Path

from contact.interactvlm.config import IMAGE_TOKEN_INDEX, InteractVLMError

IMAGE_PLACEHOLDER = "<image>"


class LegacyLlamaTokenizer:
    """transformers-4.31 `LlamaTokenizer(legacy=True)` behaviour on a SentencePiece model.

    Args:
        model_file: the release's tokenizer.model.
        added_tokens: added_tokens.json, token -> id (ids above the SentencePiece vocabulary).
    """

    def __init__(self, model_file: str | Path, added_tokens: dict[str, int]):
        import sentencepiece

        self.sp = sentencepiece.SentencePieceProcessor(model_file=str(model_file))
        self.added_tokens = dict(added_tokens)
        self.added_ids = {v: k for k, v in self.added_tokens.items()}
        self.bos_id = self.sp.bos_id()
        self.eos_id = self.sp.eos_id()
        self.unk_id = self.sp.unk_id()
        self.special_tokens = {
            self.sp.id_to_piece(i): i for i in (self.bos_id, self.eos_id, self.unk_id) if i >= 0
        }
        splitters = sorted({*self.added_tokens, *self.special_tokens}, key=len, reverse=True)
        self._split = re.compile("(" + "|".join(re.escape(t) for t in splitters) + ")")

    @classmethod
    def from_folder(cls, folder: str | Path) -> "LegacyLlamaTokenizer":
        """Load tokenizer.model and added_tokens.json from a folder.

        Raises:
            InteractVLMError: a missing file.
        """
        folder = Path(folder)
        for name in ("tokenizer.model", "added_tokens.json"):
            if not (folder / name).is_file():
                raise InteractVLMError(f"tokenizer file {folder / name} is missing")
        added = json.loads((folder / "added_tokens.json").read_text())
        return cls(folder / "tokenizer.model", {str(k): int(v) for k, v in added.items()})

    @property
    def vocab_size(self) -> int:
        """SentencePiece pieces plus added tokens."""
        return self.sp.get_piece_size() + len(self.added_tokens)

    def tokenize(self, text: str) -> list[str]:
        """Text -> tokens (SentencePiece pieces and added/special tokens), no bos."""
        chunks = [c for c in self._split.split(text)]
        for i, chunk in enumerate(chunks):
            if chunk in self.added_tokens:
                if i > 0:
                    chunks[i - 1] = chunks[i - 1].rstrip()
                if i + 1 < len(chunks):
                    chunks[i + 1] = chunks[i + 1].lstrip()
        tokens = []
        for chunk in chunks:
            if not chunk:
                continue
            if chunk in self.added_tokens or chunk in self.special_tokens:
                tokens.append(chunk)
            else:
                tokens.extend(self.sp.encode(chunk, out_type=str))
        return tokens

    def convert_tokens_to_ids(self, tokens: list[str]) -> list[int]:
        """Added tokens to their ids, everything else through SentencePiece's vocabulary."""
        return [
            self.added_tokens[t] if t in self.added_tokens else self.sp.piece_to_id(t)
            for t in tokens
        ]

    def encode(self, text: str) -> list[int]:
        """Text -> ids with bos first, as `tokenizer(text).input_ids` of 4.31."""
        return [self.bos_id, *self.convert_tokens_to_ids(self.tokenize(text))]

    def decode(self, ids: list[int]) -> str:
        """Ids -> text, added tokens written out, bos/eos/unk and the image placeholder dropped."""
        parts, run = [], []

        def flush():
            if run:
                text = self.sp.decode(run)
                if self.sp.id_to_piece(run[0]).startswith("▁") and parts:
                    text = " " + text
                parts.append(text)
                run.clear()

        for i in ids:
            if i in self.added_ids:
                flush()
                parts.append(self.added_ids[i])
            elif i in (self.bos_id, self.eos_id, self.unk_id) or i < 0:
                continue
            elif i < self.sp.get_piece_size():
                run.append(i)
        flush()
        return "".join(parts).strip()


def tokenizer_image_token(prompt: str, tokenizer: LegacyLlamaTokenizer) -> list[int]:
    """LLaVA-v1's prompt tokenization: `<image>` becomes the placeholder -200.

    Args:
        prompt: the full prompt with `<image>` where the image features go.
        tokenizer: the release's tokenizer.

    Returns:
        bos, the ids of the text before `<image>`, -200, the ids of the text after it, and so on.
    """
    chunks = [tokenizer.encode(chunk) for chunk in prompt.split(IMAGE_PLACEHOLDER)]
    ids = [tokenizer.bos_id]
    for i, chunk in enumerate(chunks):
        if i > 0:
            ids.append(IMAGE_TOKEN_INDEX)
        ids.extend(chunk[1:])
    return ids
