"""The audit log of configuration changes. `acting_as` names the actor of a command's changes."""

from helpline.audit.context import acting_as, command_label, current_actor

__all__ = ["acting_as", "command_label", "current_actor"]
