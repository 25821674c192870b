"""The ``policies`` section of the catalog: which gates apply to each request type.

```yaml
policies:
  erasure: {identity_verification: true, approval: true, reminder_days_before_due: [7, 2]}
  access:  {identity_verification: true, approval: false}
```
Request types not listed get the defaults below.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from dsrflow.domain import RequestType
from dsrflow.lifecycle import DAY, Policy

DEFAULT_APPROVAL = {RequestType.ERASURE, RequestType.RECTIFICATION}


class PolicyConfig(BaseModel):
    """One request type's policy as written in the catalog (durations in days)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    identity_verification: bool = True
    approval: bool | None = Field(None, description="Default: erasure and rectification only.")
    verification_timeout_days: float = Field(14, gt=0)
    verification_methods: list[str] = Field(
        default_factory=lambda: ["email_link", "account_login", "document_check", "in_person"],
        min_length=1,
    )
    reminder_days_before_due: list[float] = Field(default_factory=lambda: [7.0, 2.0])
    escalate_tasks_days_before_due: float = Field(5, ge=0)
    four_eyes: bool = Field(
        True, description="An erasure's approver may not be who verified the identity."
    )

    def policy(self, request_type: RequestType) -> Policy:
        """The policy the workflow receives."""
        approval = self.approval if self.approval is not None else request_type in DEFAULT_APPROVAL
        return Policy(
            identity_verification=self.identity_verification,
            approval=approval,
            verification_timeout_s=self.verification_timeout_days * DAY,
            verification_methods=list(self.verification_methods),
            reminder_offsets_s=sorted(
                (d * DAY for d in self.reminder_days_before_due), reverse=True
            ),
            escalation_offset_s=self.escalate_tasks_days_before_due * DAY,
            four_eyes=self.four_eyes,
        )


class PoliciesConfig(BaseModel):
    """Policies keyed by request type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    access: PolicyConfig = Field(default_factory=PolicyConfig)
    export: PolicyConfig = Field(default_factory=PolicyConfig)
    erasure: PolicyConfig = Field(default_factory=PolicyConfig)
    rectification: PolicyConfig = Field(default_factory=PolicyConfig)
    restriction: PolicyConfig = Field(default_factory=PolicyConfig)

    def for_type(self, request_type: RequestType) -> Policy:
        """The policy of one request type."""
        config: PolicyConfig = getattr(self, str(request_type))
        return config.policy(request_type)
