"""Questions about a complaint already told ("will somebody ring me?", "when's the engineer
coming?"), answered from the records. The action answers the NLU's ``ask_about_case``; the
helper lets the other actions answer such a question when the NLU read it as something else
(a second complaint, a yes, a detail), because only the conversation knows that a complaint
is open."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions import replies, taking
from actions.context import business, now, settings
from actions.intents import complaint_told
from redress.compensation import ledger
from redress.compensation.policy import REMEDY_KINDS, granted_words, offer_words
from redress.complaints import mentions, questions
from redress.complaints import records as complaint_records
from redress.complaints.categories import Category
from redress.conversations import records as conversations
from redress.db.models import Complaint
from redress.db.session import unit_of_work
from redress.incidents import records as incident_records
from redress.incidents import wording

# Every topic but the general one.
SPECIFIC = frozenset(questions.Topic) - {questions.Topic.GENERAL}


class ActionAnswerCaseQuestion(Action):
    def name(self) -> str:
        return "action_answer_case_question"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = replies.latest_text(tracker)
        question = questions.read_question(text) or questions.Question(questions.Topic.GENERAL)
        if not replies.has_open_complaint(tracker):
            # "when will my internet be back, it's been down since monday": with nothing
            # logged, the question is the complaint if the complaint detector says so (the
            # same test as "any update?" with nothing logged).
            told = complaint_told(tracker)
            if told is not None:
                return taking.start_complaint(dispatcher, tracker, told)
        return answer(dispatcher, tracker, question)


def case_question(
    tracker: Tracker,
    told: Category | None = None,
    *,
    topics: frozenset[questions.Topic] | set[questions.Topic] | None = None,
) -> questions.Question | None:
    """A question about an open complaint in the latest message, for actions the NLU chose
    for something else: about a specific part of it, or a general one ("so is it logged or
    not?") whose words name no other kind of problem. ``told``: the complaint category the
    NLU read in it; ``topics``: only these."""
    text = replies.latest_text(tracker)
    question = questions.read_question(text)
    if question is None or (topics is not None and question.topic not in topics):
        return None
    with unit_of_work(settings().database_url) as session:
        complaints = complaint_records.open_complaints(session, tracker.sender_id)
        open_categories = {Category(c.category) for c in complaints}
        offered = ledger.latest_offer(session, tracker.sender_id) is not None
    if question.topic is questions.Topic.GENERAL and (
        # "should I ring the hospital?" once a complaint is told is a question about it;
        # "and why has my bill gone up??" tells another problem.
        mentions.tells_another_problem(text, open_categories) or not complaints
    ):
        return None
    return question if questions.concerns(question, complaints, told, offered=offered) else None


def answer(
    dispatcher: CollectingDispatcher, tracker: Tracker, question: questions.Question
) -> list[EventType]:
    """Answers from the records, then asks again, once, the question the conversation was
    waiting on (an offer), so it is neither forgotten nor assumed."""
    config, moment = business(), now()
    with unit_of_work(settings().database_url) as session:
        conversation = conversations.ensure_conversation(session, tracker.sender_id, "rasa")
        complaints = complaint_records.open_complaints(session, conversation.id)
        case = _case(session, conversation.id, complaints)
        # None: the answer is where each complaint stands (there is at least one then).
        said = questions.answer(question, case, config, moment)
        if said is None:
            said = replies.where_complaints_stand(session, complaints)
        answered = questions.about(question, complaints)
        if question.topic is questions.Topic.CALLBACK and answered is not None:
            answered.facts = {**answered.facts, "wants_call": replies.latest_text(tracker)[:200]}
        conversations.record_event(
            session, conversation.id, "case_question", {"topic": question.topic.value}
        )
        reminder = questions.urgent_reminder(complaints)
    before = {str(e.get("text")) for e in tracker.events if e.get("event") == "bot"}
    for line in said:
        if line in before:
            # Asked again: the same answer, said as such rather than word for word.
            line = "No change since I last said: " + line[0].lower() + line[1:]
        dispatcher.utter_message(text=line)
    if reminder is not None and reminder not in before:
        dispatcher.utter_message(text=reminder)
    return replies.offer_again_once(dispatcher, tracker)


def _case(session: Session, conversation_id: str, complaints: list[Complaint]) -> questions.Case:
    config, moment = business(), now()
    offer = ledger.latest_offer(session, conversation_id)
    grant = ledger.grant_of(session, offer.id) if offer is not None else None
    incident_text = None
    linked = next((c for c in complaints if c.incident_id), None)
    if linked is not None:
        incident = incident_records.to_domain(incident_records.get_row(session, linked.incident_id))
        incident_text = wording.explain(incident, moment, config.hours.timezone).text()
    policy = config.compensation
    remedies = tuple(dict.fromkeys(REMEDY_KINDS[r.remedy] for r in policy.rules) if policy else ())
    return questions.Case(
        complaints=complaints,
        offer_words=offer_words(offer.remedy, offer.amount_pence) if offer else None,
        offer_status=offer.status if offer else None,
        granted=granted_words(grant.remedy, grant.amount_pence) if grant else None,
        grant_reference=grant.reference if grant else None,
        incident_text=incident_text,
        when_reply=replies.when_reply(session),
        remedies=remedies,
    )
