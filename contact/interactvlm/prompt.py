r"""InteractVLM's questions and the LLaVA-v1 conversation prompt around them.

The prompt is the `llava_v1` template (separator style "two": " " after the system text and the
user turn, "</s>" after the assistant turn) with the image as `<im_start><image><im_end>` on the
first line of the user turn:

    {system} USER: <im_start><image><im_end>\n{question} ASSISTANT:

for generation, and with ` {answer}</s>` appended (one space after the colon) for teacher
forcing. The question is the first of the family the checkpoint was trained on.
"""

from contact.interactvlm.tokenizer import IMAGE_PLACEHOLDER

SYSTEM_PROMPT = (
    "A chat between a curious human and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the human's questions."
)
IM_START, IM_END = "<im_start>", "<im_end>"
END_OF_ANSWER = "</s>"

QUESTIONS = {
    ("human", "parts"): (
        "Which body parts are in contact with the {object}? Segment these contact areas."
    ),
    ("human", "simple"): (
        "Segment the area on the human's body that is in direct contact with the {object} "
        "in this image."
    ),
    ("object", "afford"): (
        "What type of affordance does the human-object interaction suggest? Then, segment the "
        "area on the {object} where the human is making contact."
    ),
    ("object", "simple"): (
        "Segment the area on the {object} where the human is making direct contact in this image."
    ),
}
"""(task, question type) -> question; "afford_obj" models were asked the "afford" question."""

SEG_PLACEHOLDER = "[SEG]"
"""Written in an answer, it stands for the checkpoint's token of the task ([HSEG], [OSEG])."""


QUESTION_STYLES = ("training", "demo")
"""Which questions are asked: "training", those the checkpoint was trained and evaluated with
(its question type); "demo", those of the published `run_demo.py`, which always asks body
contact with the "parts" question and wraps the affordance question in a stray leading `"` and
trailing `",` (they reach the tokenizer). On a random tiny model the demo's object question moved
object contact by up to 0.023."""


def question(task: str, question_type: str, object_name: str, style: str = "training") -> str:
    """The question of a task about an object.

    Args:
        task: "human" or "object".
        question_type: the checkpoint's question type of that task.
        object_name: e.g. "chair"; lower-cased like the original demo does with file names.
        style: one of `QUESTION_STYLES`.
    """
    if style not in QUESTION_STYLES:
        raise ValueError(f"question style {style!r} is not one of {', '.join(QUESTION_STYLES)}")
    key = (task, "afford" if question_type == "afford_obj" else question_type)
    if style == "demo" and task == "human":
        key = ("human", "parts")
    text = QUESTIONS[key].format(object=object_name.strip().lower())
    if style == "demo" and key == ("object", "afford"):
        text = f'"{text}",'
    return text


def build_prompt(question_text: str, answer: str | None = None) -> str:
    """The full prompt; with an answer, the teacher-forcing form ending in `</s>`."""
    user = f"{IM_START}{IMAGE_PLACEHOLDER}{IM_END}\n{question_text}"
    prompt = f"{SYSTEM_PROMPT} USER: {user} ASSISTANT:"
    if answer is not None:
        prompt += f" {answer}{END_OF_ANSWER}"
    return prompt


def answer_for_task(answer: str, token_name: str) -> str:
    """An answer with `[SEG]` replaced by the task's token name (no-op for "[SEG]")."""
    return answer.replace(SEG_PLACEHOLDER, token_name)
