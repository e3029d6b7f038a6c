"""The gateway's audit trail: one ``Auditor`` over its ``audit_events`` table, used by every rule that changes
a printer or a job."""

from services.common.audit import Auditor
from services.gateway.models import AuditEvent

__all__ = ["auditor"]

auditor = Auditor(AuditEvent)
