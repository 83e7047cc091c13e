from typing import Any

SPEC: dict[str, Any] = {"openapi": "3.1.0"}
