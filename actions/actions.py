"""Every custom action, in one module for the action server to load."""

from actions.answers import ActionAnswerYesNo
from actions.asking import ActionAskAccountRef, ActionAskPostcode, ActionAskSince
from actions.case_questions import ActionAnswerCaseQuestion
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
    ActionGoodbye,
    ActionGreet,
    ActionHandleAbuse,
    ActionHandleMisunderstanding,
    ActionRequestHuman,
    ActionThanks,
    ActionWorkingAgain,
)
from actions.data_requests import ActionCannotVerify, ActionDataRequest
from actions.identity import ActionIdentityVerified
from actions.session import ActionSessionStart

__all__ = [
    "ActionAcknowledgeComplaint",
    "ActionAnswerCaseQuestion",
    "ActionAnswerOffTopic",
    "ActionAnswerYesNo",
    "ActionAskAccountRef",
    "ActionAskCompensation",
    "ActionAskPostcode",
    "ActionAskSince",
    "ActionCannotVerify",
    "ActionDataRequest",
    "ActionGiveUpdate",
    "ActionGoodbye",
    "ActionGreet",
    "ActionHandleAbuse",
    "ActionHandleMisunderstanding",
    "ActionIdentityVerified",
    "ActionLogComplaint",
    "ActionRequestHuman",
    "ActionSessionStart",
    "ActionThanks",
    "ActionUpdateDetails",
    "ActionWorkingAgain",
    "ValidateComplaintForm",
]
