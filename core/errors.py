"""Errors that end a command with one sentence a user can act on."""


class UserError(Exception):
    """A problem the user can fix (bad path, stopped service, taken port).

    The CLI prints ``str(error)`` without a traceback and exits with ``exit_code``.
    """

    exit_code = 2

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail


class ServiceUnavailable(UserError):
    """A service of the stack (Kafka, HDFS, metastore, Thrift Server) cannot be reached.

    ``setting``: the endpoint setting whose address did not answer (``thrift.host``); the
    CLI then says where that address came from and what to do about it.
    """

    exit_code = 3

    def __init__(
        self, message: str, *, detail: str | None = None, setting: str | None = None
    ) -> None:
        super().__init__(message, detail=detail)
        self.setting = setting
