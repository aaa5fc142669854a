"""Every custom action, in one module for the action server to load."""

from actions.answers import ActionAnswerYesNo
from actions.compensation import ActionAskCompensation
from actions.complaints import (
    ActionAcknowledgeComplaint,
    ActionLogComplaint,
    ActionUpdateDetails,
    ValidateComplaintForm,
)
from actions.conversation import (
    ActionAnswerOffTopic,
    ActionGiveUpdate,
    ActionGreet,
    ActionHandleAbuse,
    ActionHandleMisunderstanding,
    ActionRequestHuman,
    ActionWorkingAgain,
)
from actions.session import ActionSessionStart

__all__ = [
    "ActionAcknowledgeComplaint",
    "ActionAnswerOffTopic",
    "ActionAnswerYesNo",
    "ActionAskCompensation",
    "ActionGiveUpdate",
    "ActionGreet",
    "ActionHandleAbuse",
    "ActionHandleMisunderstanding",
    "ActionLogComplaint",
    "ActionRequestHuman",
    "ActionSessionStart",
    "ActionUpdateDetails",
    "ActionWorkingAgain",
    "ValidateComplaintForm",
]
