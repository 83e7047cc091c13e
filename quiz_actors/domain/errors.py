"""The one exception the domain raises when a command is refused."""


class RoomError(Exception):
    """A refused command. ``code`` is an error code of docs/protocol.md."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message
