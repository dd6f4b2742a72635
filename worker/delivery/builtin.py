"""The worker's own delivery backends, registered like a provider's (``peerpulse.delivery``).

Each factory imports its backend only when an account uses it.
"""

from __future__ import annotations

from peerpulse.connectors.delivery import DeliveryBackend
from peerpulse.connectors.registry import Delivery, DeliveryRequest
from peerpulse.worker.delivery.settings import FileSettings, SmtpSettings, StdoutSettings


def _smtp(config: SmtpSettings, request: DeliveryRequest) -> DeliveryBackend:
    from peerpulse.worker.delivery.smtp import SmtpBackend

    return SmtpBackend(config)


def _file(config: FileSettings, request: DeliveryRequest) -> DeliveryBackend:
    from peerpulse.worker.delivery.files import FileBackend

    return FileBackend(request.resolve_path(config.dir))


def _stdout(config: StdoutSettings, request: DeliveryRequest) -> DeliveryBackend:
    from peerpulse.worker.delivery.stdout import StdoutBackend

    return StdoutBackend(config.format)


SMTP = Delivery(name="smtp", settings=SmtpSettings, backend=_smtp)
FILE = Delivery(name="file", settings=FileSettings, backend=_file)
STDOUT = Delivery(name="stdout", settings=StdoutSettings, backend=_stdout)
