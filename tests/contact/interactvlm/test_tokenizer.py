"""The 4.31 slow-tokenizer emulation and the published prompt, on a toy character vocabulary.

Expected ids are spelled out piece by piece from the rules (each chunk gets its own dummy prefix
"▁"; whitespace next to added tokens disappears; </s> is SentencePiece's eos), then looked up in
the toy vocabulary: no tokenizer code computes them.
"""

import pytest
import sentencepiece

from contact.interactvlm.config import IMAGE_TOKEN_INDEX
from contact.interactvlm.prompt import SYSTEM_PROMPT, build_prompt, question
from contact.interactvlm.tokenizer import LegacyLlamaTokenizer, tokenizer_image_token
from tests.contact.interactvlm.tiny_release import added_tokens, toy_sentencepiece


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tok")
    proto = toy_sentencepiece()
    (folder / "tokenizer.model").write_bytes(proto)
    size = sentencepiece.SentencePieceProcessor(model_proto=proto).get_piece_size()
    return LegacyLlamaTokenizer(folder / "tokenizer.model", added_tokens(size, "Gen"))


def spell(tokenizer, text):
    """Ids of a chunk on the character vocabulary: "▁" for the dummy prefix and each space."""
    return [tokenizer.sp.piece_to_id(c) for c in "▁" + text.replace(" ", "▁")]


def test_published_generate_prompt(tokenizer):
    seg, im_start, im_end = (tokenizer.added_tokens[t] for t in ("[SEG]", "<im_start>", "<im_end>"))
    prompt = build_prompt(question("human", "parts", "Chair"))
    assert prompt == (
        f"{SYSTEM_PROMPT} USER: <im_start><image><im_end>\nWhich body parts are in contact with "
        "the chair? Segment these contact areas. ASSISTANT:"
    )
    ids = tokenizer_image_token(prompt, tokenizer)
    expected = (
        [1]
        + spell(tokenizer, SYSTEM_PROMPT + " USER:")  # the space before <im_start> is gone
        + [im_start, IMAGE_TOKEN_INDEX, im_end]
        # the newline after <im_end> is gone and "Which" gets its own dummy prefix
        + spell(
            tokenizer,
            "Which body parts are in contact with the chair? Segment these "
            "contact areas. ASSISTANT:",
        )
    )
    assert ids == expected
    assert seg not in ids
    # No byte piece of the newline, no second bos.
    assert tokenizer.sp.piece_to_id("<0x0A>") not in ids and ids.count(1) == 1


def test_published_forward_prompt(tokenizer):
    seg = tokenizer.added_tokens["[SEG]"]
    answer = "The contacting body parts are hands, and the contact region is [SEG]."
    prompt = build_prompt(question("human", "parts", "chair"), answer)
    assert prompt.endswith("ASSISTANT: " + answer + "</s>")
    ids = tokenizer_image_token(prompt, tokenizer)
    tail = (
        spell(
            tokenizer,
            "Which body parts are in contact with the chair? Segment these contact "
            "areas. ASSISTANT: The contacting body parts are hands, and the contact region is",
        )
        + [seg]
        + spell(tokenizer, ".")  # "▁", "." : the chunk after [SEG] has its own dummy prefix
        + [2]
    )
    assert ids[-len(tail) :] == tail
    assert tokenizer.decode(ids) == (
        SYSTEM_PROMPT + " USER:<im_start><im_end> Which body parts are in contact with the chair? "
        "Segment these contact areas. ASSISTANT: The contacting body parts are hands, and the "
        "contact region is[SEG] ."
    )


def test_strip_rules(tokenizer):
    seg = tokenizer.added_tokens["[SEG]"]
    sp = tokenizer.sp
    # Added tokens eat whitespace on both sides, newlines included.
    assert tokenizer.encode("a \n[SEG]\n  b") == [
        1,
        *spell(tokenizer, "a"),
        seg,
        *spell(tokenizer, "b"),
    ]
    # </s> strips nothing: the space before it is encoded, and so is the one after it.
    assert tokenizer.encode("a </s> b") == [1, *spell(tokenizer, "a "), 2, *spell(tokenizer, " b")]
    # Longest match first, empty chunks skipped, one bos per call.
    assert tokenizer.encode("[SEG][SEG]") == [1, seg, seg]
    assert tokenizer.encode("") == [1]
    # A newline inside a chunk falls back to its byte piece.
    assert tokenizer.encode("a\nb") == [
        1,
        *spell(tokenizer, "a"),
        sp.piece_to_id("<0x0A>"),
        sp.piece_to_id("b"),
    ]


def test_image_token_between_chunks(tokenizer):
    ids = tokenizer_image_token("x <image> y <image>z", tokenizer)
    assert ids == [
        1,
        *spell(tokenizer, "x "),
        IMAGE_TOKEN_INDEX,
        *spell(tokenizer, " y "),
        IMAGE_TOKEN_INDEX,
        *spell(tokenizer, "z"),
    ]


def test_question_styles():
    # Training questions follow the checkpoint's question type; the published demo always asks
    # the parts question about the body and quotes the affordance question with a stray `",`.
    simple = "Segment the area on the human's body that is in direct contact with the chair in "
    assert question("human", "simple", "Chair") == simple + "this image."
    assert question("human", "simple", "chair", "demo") == question("human", "parts", "chair")
    afford = question("object", "afford_obj", "chair")
    assert afford.startswith("What type of affordance") and afford.endswith("making contact.")
    assert question("object", "afford", "chair", "demo") == f'"{afford}",'
    assert question("object", "simple", "chair", "demo") == question("object", "simple", "chair")
    with pytest.raises(ValueError, match="question style"):
        question("human", "parts", "chair", "published")
