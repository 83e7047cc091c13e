"""Quiz documents are validated completely, with a path to each problem."""

import pytest

from quiz_actors.domain.quiz import QuizInvalid, validate_quiz_document


def question(**overrides):
    q = {"text": "Capital of France?", "choices": ["Paris", "Lyon"], "correct": [0], "time_limit_s": 20}
    q.update(overrides)
    return q


def test_a_valid_quiz_gets_defaults():
    quiz = validate_quiz_document({"title": " Capitals ", "questions": [question(time_limit_s=5)]})
    assert quiz["title"] == "Capitals"
    assert quiz["questions"][0]["points"] == "standard"
    assert (
        validate_quiz_document(
            {"title": "T", "questions": [{"text": "Q", "choices": ["a", "b"], "correct": [1]}]}
        )["questions"][0]["time_limit_s"]
        == 20
    )


@pytest.mark.parametrize(
    "doc, fragment",
    [
        ([], "JSON object"),
        ({"questions": [question()]}, "title"),
        ({"title": "T", "questions": []}, "questions"),
        ({"title": "T", "questions": [question()] * 101}, "at most 100"),
        ({"title": "T", "questions": [question(text="")]}, "questions[0].text"),
        ({"title": "T", "questions": [question(text="x" * 501)]}, "500"),
        ({"title": "T", "questions": [question(choices=["only"])]}, "2 to 6"),
        ({"title": "T", "questions": [question(choices=list("abcdefg"))]}, "2 to 6"),
        ({"title": "T", "questions": [question(choices=["a", "x" * 121])]}, "choices[1]"),
        ({"title": "T", "questions": [question(correct=[])]}, "correct"),
        ({"title": "T", "questions": [question(correct=[2])]}, "not an index"),
        ({"title": "T", "questions": [question(correct=[True])]}, "not an index"),
        ({"title": "T", "questions": [question(correct=[0, 0])]}, "twice"),
        ({"title": "T", "questions": [question(time_limit_s=4)]}, "time_limit_s"),
        ({"title": "T", "questions": [question(time_limit_s=241)]}, "time_limit_s"),
        ({"title": "T", "questions": [question(time_limit_s=10.5)]}, "time_limit_s"),
        ({"title": "T", "questions": [question(points="triple")]}, "points"),
        ({"title": "T", "questions": ["nope"]}, "questions[0]: must be an object"),
    ],
)
def test_invalid_documents_say_what_is_wrong(doc, fragment):
    with pytest.raises(QuizInvalid) as error:
        validate_quiz_document(doc)
    assert any(fragment in d for d in error.value.details), error.value.details


def test_every_problem_is_reported_at_once():
    with pytest.raises(QuizInvalid) as error:
        validate_quiz_document({"title": "", "questions": [question(text=""), question(correct=[5])]})
    assert len(error.value.details) == 3
