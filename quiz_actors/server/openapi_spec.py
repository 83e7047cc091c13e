"""The OpenAPI 3.1 description of the HTTP API: every /api endpoint, /media and /healthz
(pictures, import and export are media_openapi.py's).

Written by hand from the contract (docs/api.md says the same in words), and
checked against the running server by tests/test_openapi_contract.py
(schemathesis). Schemas hold only rules the server applies at least as
strictly: whatever breaks them is refused. Rules a schema cannot say (a right
answer that is one of the choices, a slider's steps) are the server's, and its
``problems`` name them.
"""

from __future__ import annotations

from typing import Any

from quiz_actors import __version__
from quiz_actors.domain.questions import MAX_QUESTION_TEXT, MAX_TIME_LIMIT_S, MIN_TIME_LIMIT_S
from quiz_actors.domain.questions.base import MAX_CHOICE_TEXT, MAX_CHOICES, MIN_CHOICES
from quiz_actors.domain.questions.typed import MAX_ACCEPTED
from quiz_actors.domain.quiz import MAX_DESCRIPTION, MAX_QUESTIONS, MAX_TITLE
from quiz_actors.domain.scoring import POINTS_BY_KIND
from quiz_actors.server import media_openapi

JSON = "application/json"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv"
IMAGE_TYPES = ("image/webp", "image/png", "image/jpeg", "image/gif")


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def error(description: str) -> dict[str, Any]:
    return json_body(ref("Error"), description)


def reply(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/responses/{name}"}


QUIZ_ID = {
    "name": "quiz_id",
    "in": "path",
    "required": True,
    "description": "The quiz's id, as the list gives it",
    "schema": {"type": "string", "format": "uuid"},
}
MEDIA_ID = {
    "name": "media_id",
    "in": "path",
    "required": True,
    "description": "The SHA-256 of the stored picture, in hex",
    "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
}
QUIZ_DOCUMENT_BODY = {
    "required": True,
    "content": {JSON: {"schema": ref("QuizDocument")}},
}
KEY: list[dict[str, list[str]]] = [{"adminKey": []}]  # needed when the server runs with --admin-key

# ------------------------------------------------------------------ schemas

TEXT = {"type": "string", "minLength": 1}
SHARED_QUESTION_FIELDS: dict[str, Any] = {
    "text": {**TEXT, "maxLength": MAX_QUESTION_TEXT, "description": "The question (not blank)"},
    "time_limit_s": {
        "type": "integer",
        "minimum": MIN_TIME_LIMIT_S,
        "maximum": MAX_TIME_LIMIT_S,
        "default": 20,
        "description": "Seconds to answer",
    },
    "image": {
        "type": ["string", "null"],
        "pattern": "^[0-9a-f]{64}$",
        "description": "A picture's media_id from POST /api/media (the server checks it holds it)",
    },
    "image_on_phones": {
        "type": ["boolean", "null"],
        "default": False,
        "description": "Show the picture on the players' phones too (always on the host's screen)",
    },
}
JUDGED_POINTS = {"type": "string", "enum": list(POINTS_BY_KIND), "default": "standard"}
CHOICE_TEXTS = {
    "type": "array",
    "minItems": MIN_CHOICES,
    "maxItems": MAX_CHOICES,
    "items": {**TEXT, "maxLength": MAX_CHOICE_TEXT},
}
RIGHT_INDEXES = {
    "type": "array",
    "minItems": 1,
    "uniqueItems": True,
    "items": {"type": "integer", "minimum": 0, "maximum": MAX_CHOICES - 1},
    "description": "The indexes of the right choices, each one of the choices",
}


def question_type(name: str, description: str, fields: dict[str, Any], required: list[str]) -> dict[str, Any]:
    # "choice" is the type of a question that names none (as before question types).
    type_field = {"type": "string", "const": name}
    return {
        "type": "object",
        "description": description,
        "properties": {"type": type_field, **SHARED_QUESTION_FIELDS, **fields},
        "required": ["text", *required] + ([] if name == "choice" else ["type"]),
    }


QUESTION_TYPES: dict[str, dict[str, Any]] = {
    "ChoiceQuestion": question_type(
        "choice",
        "Tap one of 2–6 choices; right when it is one of `correct`",
        {"choices": CHOICE_TEXTS, "correct": RIGHT_INDEXES, "points": JUDGED_POINTS},
        ["choices", "correct"],
    ),
    "MultiQuestion": question_type(
        "multi",
        "Tick any of 2–6 choices; right when the ticked set is exactly `correct`",
        {"choices": CHOICE_TEXTS, "correct": RIGHT_INDEXES, "points": JUDGED_POINTS},
        ["choices", "correct"],
    ),
    "TrueFalseQuestion": question_type(
        "true_false",
        "True or false",
        {"correct": {"type": "boolean"}, "points": JUDGED_POINTS},
        ["correct"],
    ),
    "TypeAnswerQuestion": question_type(
        "type_answer",
        "Type a short answer (at most 40 characters); right when it matches an accepted one",
        {
            "accepted": {"type": "array", "minItems": 1, "maxItems": MAX_ACCEPTED, "items": TEXT},
            "ignore_accents": {"type": "boolean", "default": False},
            "points": JUDGED_POINTS,
        },
        ["accepted"],
    ),
    "SliderQuestion": question_type(
        "slider",
        "Pick a number from min to max in steps; right within `tolerance` of `value`",
        {
            "min": {"type": "number"},
            "max": {"type": "number"},
            "step": {"type": "number", "exclusiveMinimum": 0, "default": 1},
            "value": {"type": "number"},
            "tolerance": {"type": "number", "minimum": 0, "default": 0},
            "points": JUDGED_POINTS,
        },
        ["min", "max", "value"],
    ),
    "OrderQuestion": question_type(
        "order",
        "Put 2–6 items in order (listed here in the right order)",
        {"items": CHOICE_TEXTS, "points": JUDGED_POINTS},
        ["items"],
    ),
    "PollQuestion": question_type(
        "poll",
        "Tap one of 2–6 choices; no right answer, no points",
        {"choices": CHOICE_TEXTS, "points": {"type": "string", "const": "none"}},
        ["choices"],
    ),
}

SUMMARY = {
    "type": "object",
    "description": "What a list shows of a quiz: never the answers",
    "properties": {
        "quiz_id": {"type": "string", "format": "uuid"},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "question_count": {"type": "integer", "minimum": 1},
        "revision": {"type": "integer", "minimum": 1, "description": "1 when created, one more per change"},
        "updated_at": {"type": "integer", "description": "Last change, in ms since the epoch"},
        "archived": {"type": "boolean", "description": "Deleted: kept for the games played with it"},
    },
    "required": ["quiz_id", "title", "description", "question_count", "revision", "updated_at", "archived"],
}
PROBLEM = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "description": "Where in the quiz document: questions[0].correct"},
        "message": {"type": "string", "description": "In plain words, without the path"},
        "row": {"type": "integer", "description": "Imports: the spreadsheet row"},
        "column": {"type": "string", "description": "Imports: the spreadsheet column"},
        "code": {
            "type": "string",
            "description": "The kind of problem, for a page to say it in its own language "
            "(docs/api.md, Problem codes: a quiz's and an import's); absent where only message says it",
        },
        "params": {
            "type": "object",
            "additionalProperties": {"type": ["string", "integer"]},
            "description": "With code: the numbers and texts its words need ({max: 120, length: 131})",
        },
    },
    "required": ["path", "message"],
}
ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "For programs: quiz_invalid, quiz_changed, …"},
                "message": {"type": "string", "description": "For people"},
                "details": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "One line per problem, path first (what clients before `problems` read)",
                },
                "problems": {"type": "array", "items": ref("Problem")},
            },
            "required": ["code", "message", "details", "problems"],
        }
    },
    "required": ["error"],
}
SCHEMAS: dict[str, Any] = {
    "QuizDocument": {
        "type": "object",
        "description": "A quiz as a teacher writes it. Fields not listed here are ignored.",
        "properties": {
            "title": {**TEXT, "description": f"Not blank; at most {MAX_TITLE} characters"},
            "description": {
                "type": ["string", "null"],
                "description": f"At most {MAX_DESCRIPTION} characters",
            },
            "questions": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_QUESTIONS,
                "items": {"oneOf": [ref(name) for name in QUESTION_TYPES]},
            },
        },
        "required": ["title", "questions"],
    },
    **QUESTION_TYPES,
    "QuizSummary": SUMMARY,
    "QuizList": {
        "type": "object",
        "properties": {"quizzes": {"type": "array", "items": ref("QuizSummary")}},
        "required": ["quizzes"],
    },
    "Quiz": {
        "type": "object",
        "description": "One quiz as it is now, answers included",
        "properties": {
            "quiz_id": {"type": "string", "format": "uuid"},
            "revision": {"type": "integer", "minimum": 1},
            "created_at": {"type": "integer"},
            "updated_at": {"type": "integer"},
            "archived": {"type": "boolean"},
            "document": ref("QuizDocument"),
        },
        "required": ["quiz_id", "revision", "updated_at", "archived", "document"],
    },
    "Problems": {
        "type": "object",
        "properties": {"problems": {"type": "array", "items": ref("Problem")}},
        "required": ["problems"],
    },
    "Problem": PROBLEM,
    "Error": ERROR,
    "Health": {
        "type": "object",
        "properties": {"status": {"type": "string", "enum": ["ok", "unavailable"]}},
        "required": ["status"],
    },
}

RESPONSES: dict[str, Any] = {
    "Unauthorized": {
        **error("With --admin-key set: the request did not carry `Authorization: Bearer <key>`"),
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
    },
    "QuizNotFound": error("`quiz_not_found`: no quiz has this id"),
    "QuizInvalid": error("`quiz_invalid`: the body is not a valid quiz; `problems` lists every problem"),
    "TooBig": error("The body is too big"),
    "BadRequest": error("`bad_request`: a parameter is not one the server knows"),
    "Summary": {
        **json_body(ref("QuizSummary"), "The quiz's summary"),
        "headers": {"ETag": {"description": 'The revision, quoted: "2"', "schema": {"type": "string"}}},
    },
    "Created": {
        **json_body(ref("QuizSummary"), "The new quiz's summary (revision 1)"),
        "headers": {
            "ETag": {"schema": {"type": "string"}},
            "Location": {"description": "/api/quizzes/<quiz_id>", "schema": {"type": "string"}},
        },
    },
}

# ------------------------------------------------------------------ paths

QUIZ_PATHS: dict[str, Any] = {
    "/api/quizzes": {
        "get": {
            "operationId": "listQuizzes",
            "tags": ["quizzes"],
            "summary": "List quizzes, newest change first (summaries: no key needed)",
            "parameters": [
                {
                    "name": "q",
                    "in": "query",
                    "description": "Only quizzes whose title holds this text (case-insensitive)",
                    "schema": {"type": "string"},
                },
                {
                    "name": "archived",
                    "in": "query",
                    "description": "1: the archived (deleted) quizzes only; 0 (the default): the others",
                    "schema": {"type": "string", "enum": ["0", "1", "true", "false"]},
                },
            ],
            "responses": {"200": json_body(ref("QuizList"), "The quizzes"), "400": reply("BadRequest")},
        },
        "post": {
            "operationId": "createQuiz",
            "tags": ["quizzes"],
            "summary": "Create a quiz (revision 1)",
            "security": KEY,
            "requestBody": QUIZ_DOCUMENT_BODY,
            "responses": {
                "201": reply("Created"),
                "400": reply("QuizInvalid"),
                "401": reply("Unauthorized"),
                "413": reply("TooBig"),
            },
        },
    },
    "/api/quizzes/validate": {
        "post": {
            "operationId": "validateQuiz",
            "tags": ["quizzes"],
            "summary": "Check a quiz document without storing it",
            "description": "200 with every problem (none when the quiz is valid): what the editor shows "
            "as the teacher types. 400 only when the body is not JSON at all.",
            "security": KEY,
            "requestBody": {"required": True, "content": {JSON: {"schema": {}}}},
            "responses": {
                "200": json_body(ref("Problems"), "Every problem; empty when the quiz is valid"),
                "400": reply("QuizInvalid"),
                "401": reply("Unauthorized"),
                "413": reply("TooBig"),
            },
        },
    },
    "/api/quizzes/{quiz_id}": {
        "parameters": [QUIZ_ID],
        "get": {
            "operationId": "getQuiz",
            "tags": ["quizzes"],
            "summary": "Read a whole quiz (it holds the answers), archived ones too",
            "security": KEY,
            "responses": {
                "200": {
                    **json_body(ref("Quiz"), "The quiz as it is now"),
                    "headers": {"ETag": {"description": 'The revision: "3"', "schema": {"type": "string"}}},
                },
                "401": reply("Unauthorized"),
                "404": reply("QuizNotFound"),
            },
        },
        "put": {
            "operationId": "reviseQuiz",
            "tags": ["quizzes"],
            "summary": "Store a new revision, made from the revision If-Match names",
            "security": KEY,
            "parameters": [
                {
                    "name": "If-Match",
                    "in": "header",
                    "required": True,
                    "description": 'The ETag you read: "3"',
                    "schema": {"type": "string"},
                }
            ],
            "requestBody": QUIZ_DOCUMENT_BODY,
            "responses": {
                "200": reply("Summary"),
                "400": error(
                    "`quiz_invalid` (with `problems`), or `bad_request`: If-Match names no revision"
                ),
                "401": reply("Unauthorized"),
                "404": reply("QuizNotFound"),
                "409": error("`quiz_archived`: an archived quiz cannot change"),
                "412": error("`quiz_changed`: This quiz changed since you opened it (now revision N)"),
                "413": reply("TooBig"),
                "428": error("`revision_required`: send If-Match"),
            },
        },
        "delete": {
            "operationId": "archiveQuiz",
            "tags": ["quizzes"],
            "summary": "Delete (archive) a quiz: no new room can use it; games played keep it and reports",
            "security": KEY,
            "responses": {
                "200": reply("Summary"),
                "401": reply("Unauthorized"),
                "404": reply("QuizNotFound"),
            },
        },
    },
    "/api/quizzes/{quiz_id}/duplicate": {
        "parameters": [QUIZ_ID],
        "post": {
            "operationId": "duplicateQuiz",
            "tags": ["quizzes"],
            "summary": 'Copy a quiz as a new one titled "<title> (copy)", or the title the body names',
            "security": KEY,
            "requestBody": {
                "required": False,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "title": {
                                    "type": "string",
                                    "description": "The copy's title, as a page says 'copy' in its language",
                                }
                            },
                        }
                    }
                },
            },
            "responses": {
                "201": reply("Created"),
                "400": reply("QuizInvalid"),
                "401": reply("Unauthorized"),
                "404": reply("QuizNotFound"),
            },
        },
    },
}

# ------------------------------------------------------------------ game reports (reports_http.py)

ROOM = {
    "name": "room",
    "in": "path",
    "required": True,
    "description": "The room's id, or its 6-digit code (the newest room with it that you may see)",
    "schema": {"type": "string", "minLength": 1},
}
# The room's host proves itself with the session token from the socket's `welcome`; the admin with the key.
HOST_OR_ADMIN: list[dict[str, list[str]]] = [{"session": []}, {"adminKey": []}]
REFUSED = {
    "401": {
        **error("`unauthorized`: no session token or admin key, or one the server does not accept"),
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
    },
    "403": error("`forbidden`: a valid user who is not this game's host (or, for results, not a player)"),
    "404": error("`game_not_found`: no game has this id or code"),
    "400": error("`bad_request`: neither a room id nor a 6-digit code"),
}
LOOSE_OBJECT = {"type": "object"}
GAME_SCHEMAS: dict[str, Any] = {
    "GameList": {
        "type": "object",
        "properties": {
            "games": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "room_id": {"type": "string", "format": "uuid"},
                        "code": {"type": "string", "pattern": "^[0-9]{6}$"},
                        "title": {"type": "string"},
                        "host_name": {"type": ["string", "null"]},
                        "created_at_ms": {"type": "integer"},
                        "started": {"type": "boolean"},
                        "ended_at_ms": {"type": ["integer", "null"]},
                        "closed": {"type": "boolean"},
                        "players": {"type": "integer", "minimum": 0},
                    },
                    "required": ["room_id", "code", "title", "created_at_ms", "started", "closed", "players"],
                },
            },
            "all_hosts": {"type": "boolean", "description": "true for the admin: every host's games"},
        },
        "required": ["games", "all_hosts"],
    },
    "GameReport": {
        "type": "object",
        "description": 'docs/protocol.md, "Game reports", says every field',
        "properties": {
            "room_id": {"type": "string", "format": "uuid"},
            "code": {"type": "string"},
            "title": {"type": "string"},
            "finished": {"type": "boolean"},
            "ranking": {"type": "array", "items": LOOSE_OBJECT},
            "questions": {"type": "array", "items": LOOSE_OBJECT},
            "hardest": {"type": "array", "items": LOOSE_OBJECT},
            "players": {"type": "array", "items": LOOSE_OBJECT},
        },
        "required": ["room_id", "code", "title", "finished", "ranking", "questions", "hardest", "players"],
    },
    "PlayerResults": {
        "type": "object",
        "properties": {
            "room_id": {"type": "string", "format": "uuid"},
            "name": {"type": "string"},
            "rank": {"type": ["integer", "null"]},
            "score": {"type": ["integer", "null"]},
            "answers": {"type": "array", "items": LOOSE_OBJECT},
        },
        "required": ["room_id", "name", "rank", "score", "answers"],
    },
}


def _game_file(media_type: str, what: str) -> dict[str, Any]:
    return {
        "description": f"{what} (Content-Disposition: attachment)",
        "content": {media_type: {"schema": {"type": "string"}}},
    }


GAME_PATHS: dict[str, Any] = {
    "/api/games": {
        "get": {
            "operationId": "listGames",
            "tags": ["game reports"],
            "summary": "Past games: the ones this user hosted, newest first (the admin: every host's)",
            "security": HOST_OR_ADMIN,
            "responses": {"200": json_body(ref("GameList"), "At most 200 games"), "401": REFUSED["401"]},
        }
    },
    "/api/games/{room}/report": {
        "parameters": [ROOM],
        "get": {
            "operationId": "gameReport",
            "tags": ["game reports"],
            "summary": "A game's report: ranking, each question, hardest questions, each player's answers",
            "security": HOST_OR_ADMIN,
            "responses": {"200": json_body(ref("GameReport"), "The report"), **REFUSED},
        },
    },
    "/api/games/{room}/report.csv": {
        "parameters": [ROOM],
        "get": {
            "operationId": "gameReportCsv",
            "tags": ["game reports"],
            "summary": "Every answer of a game, one row per player per question",
            "security": HOST_OR_ADMIN,
            "responses": {"200": _game_file(CSV, "UTF-8 CSV with a byte-order mark"), **REFUSED},
        },
    },
    "/api/games/{room}/report.xlsx": {
        "parameters": [ROOM],
        "get": {
            "operationId": "gameReportXlsx",
            "tags": ["game reports"],
            "summary": "The report as a workbook: Ranking, Questions, Answers",
            "security": HOST_OR_ADMIN,
            "responses": {"200": _game_file(XLSX, "The workbook"), **REFUSED},
        },
    },
    "/api/games/{room}/results/me": {
        "parameters": [ROOM],
        "get": {
            "operationId": "myResults",
            "tags": ["game reports"],
            "summary": "A player's own answers, once the game has ended",
            "security": [{"session": []}],
            "responses": {
                "200": json_body(ref("PlayerResults"), "This player's answers to the questions that closed"),
                **REFUSED,
                "400": error(
                    "`bad_request`: neither a room id nor a code, or the admin key (results are a "
                    "player's own)"
                ),
                "409": error("`game_not_finished`: the game is still going"),
            },
        },
    },
}


JOIN_CODE = {
    "name": "code",
    "in": "query",
    "description": "The room's 6-digit code, for the link that fills it in",
    "schema": {"type": "string", "pattern": "^[0-9]{6}$"},
}
JOIN_PATHS: dict[str, Any] = {
    "/api/join": {
        "get": {
            "operationId": "joinAddress",
            "tags": ["joining"],
            "summary": "Where players join: the address, why it was chosen, the link with the code",
            "parameters": [JOIN_CODE],
            "responses": {
                "200": json_body(
                    {
                        "type": "object",
                        "properties": {
                            "url": {"type": "string"},
                            "shown": {"type": "string"},
                            "link": {"type": "string"},
                            "source": {"type": "string", "enum": ["public_url", "page", "network"]},
                            "reason": {"type": "string"},
                            "warning": {"type": ["string", "null"]},
                            "why": {"type": "string"},
                            "warning_code": {"type": ["string", "null"]},
                            "qr": {"type": ["string", "null"]},
                        },
                        "required": ["url", "shown", "link", "source", "reason", "warning", "qr"],
                    },
                    "docs/protocol.md, HTTP, says every field",
                ),
                "400": error("`bad_code`: the code is not 6 digits"),
            },
        }
    },
    "/api/join/qr": {
        "get": {
            "operationId": "joinQrCode",
            "tags": ["joining"],
            "summary": "The join link as a QR code (SVG, drawn on the server)",
            "parameters": [JOIN_CODE],
            "responses": {
                "200": {
                    "description": "The QR code",
                    "content": {"image/svg+xml": {"schema": {"type": "string"}}},
                },
                "400": error("`bad_code`: the code is not 6 digits"),
            },
        }
    },
}

OTHER_PATHS: dict[str, Any] = {
    "/api/openapi.json": {
        "get": {
            "operationId": "openapi",
            "tags": ["about"],
            "summary": "This description",
            "responses": {"200": json_body({"type": "object"}, "OpenAPI 3.1")},
        }
    },
    "/healthz": {
        "get": {
            "operationId": "health",
            "tags": ["about"],
            "summary": "Whether the server reaches its event store",
            "responses": {
                "200": json_body(ref("Health"), "The store answers"),
                "503": json_body(ref("Health"), "The store does not answer"),
            },
        }
    },
}

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "quiz-actors HTTP API",
        "version": __version__,
        "description": "Quizzes, pictures, import and export, as the quiz editor and scripts use them. "
        "Errors are `{error: {code, message, details, problems}}`. With `--admin-key` set, every change "
        "and every whole quiz needs `Authorization: Bearer <key>`; lists and pictures do not. "
        "docs/api.md explains it all with curl examples.",
        "license": {"name": "MIT", "identifier": "MIT"},
    },
    "paths": {**QUIZ_PATHS, **media_openapi.PATHS, **GAME_PATHS, **JOIN_PATHS, **OTHER_PATHS},
    "components": {
        "schemas": {**SCHEMAS, **media_openapi.SCHEMAS, **GAME_SCHEMAS},
        "responses": RESPONSES,
        "securitySchemes": {
            "adminKey": {
                "type": "http",
                "scheme": "bearer",
                "description": "The server's --admin-key (needed only when the server has one)",
            },
            "session": {
                "type": "http",
                "scheme": "bearer",
                "description": "A session token from the WebSocket's `welcome` (reports: the host)",
            },
        },
    },
}
