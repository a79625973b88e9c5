"""Rules of logging communications: same-customer contacts, last-contact dates, follow-ups, overrides, merge,
reminders once per gap (frozen clock)."""

from datetime import date, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import AuditLog, Notification
from accounts.tenancy import tenant_scope
from communications import services
from communications.choices import FollowUpStatus
from communications.models import Communication, FollowUp
from communications.signals import communication_logged, follow_up_due
from communications.tests.factories import make_communication
from customers import services as customer_services
from customers.choices import CustomerLevel
from customers.models import CustomerContact
from customers.tests.factories import make_contact, make_customer, reload

pytestmark = pytest.mark.django_db


def test_a_contact_of_another_customer_is_refused_naming_contact_id(owner):
    customer, other = make_customer(owner), make_customer(owner)
    stranger = make_contact(owner, other)
    with pytest.raises(ValidationError) as exc:
        make_communication(owner, customer, contact=stranger)
    assert "contact_id" in exc.value.message_dict
    with tenant_scope(owner.tenant):
        assert not Communication.objects.exists()


def test_logging_moves_last_contact_dates_of_customer_and_contact_forward_only(owner):
    customer = make_customer(owner)
    contact = make_contact(owner, customer)
    when = timezone.now() - timedelta(days=2)
    make_communication(owner, customer, contact=contact, communication_date=when)
    assert reload(customer).last_contact_date == when
    make_communication(owner, customer, communication_date=when - timedelta(days=5))  # an older note
    assert reload(customer).last_contact_date == when
    with tenant_scope(owner.tenant):
        assert CustomerContact.objects.get(pk=contact.pk).last_contact_date == when


def test_the_text_is_analysed_and_the_signal_carries_sentiment_and_needs(owner, django_capture_on_commit_callbacks):
    customer = make_customer(owner)
    received = []
    communication_logged.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="t1")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            comm = make_communication(owner, customer, content="客户说服务太差，明年不续约了")
    finally:
        communication_logged.disconnect(dispatch_uid="t1")
    assert comm.sentiment == 1
    assert comm.analysis.score < 0
    assert {"tag": "renewal_risk", "evidence": "不续约"} in comm.analysis.needs
    assert received[0]["sentiment"] == 1 and received[0]["customer"] == customer
    assert any(need["tag"] == "renewal_risk" for need in received[0]["needs"])


def test_staff_override_is_kept_across_reanalysis_and_audited(owner):
    customer = make_customer(owner)
    comm = make_communication(owner, customer, content="Thanks, great work on the upgrade!")
    assert comm.sentiment == 3
    with tenant_scope(owner.tenant):
        services.communication_sentiment_override(actor=owner, communication=comm, sentiment=1)
        services.communication_update(actor=owner, communication=comm, data={"content": "Thanks, great work!!"})
        stored = Communication.objects.select_related("analysis").get(pk=comm.pk)
        assert stored.sentiment == 1 and stored.analysis.auto_sentiment == 3
        assert AuditLog.objects.filter(action="crm.communication.sentiment_overridden", object_id=str(comm.pk)).exists()
        services.communication_sentiment_override(actor=owner, communication=stored, sentiment=None)
        assert Communication.objects.get(pk=comm.pk).sentiment == 3


def test_next_action_with_due_date_creates_a_follow_up_for_the_staff_member(owner, teammate):
    customer = make_customer(owner, assigned_manager=teammate)
    comm = make_communication(
        teammate, customer, next_action="Send the renewal quote", next_action_due=date(2030, 1, 5)
    )
    with tenant_scope(owner.tenant):
        follow_up = FollowUp.objects.get(communication=comm)
    assert (follow_up.staff, follow_up.due_date, follow_up.status) == (teammate, date(2030, 1, 5), FollowUpStatus.OPEN)


def test_a_due_date_without_a_next_action_is_refused(owner):
    with pytest.raises(ValidationError) as exc:
        make_communication(owner, make_customer(owner), next_action_due=date(2030, 1, 5))
    assert "next_action" in exc.value.message_dict


def test_soft_delete_hides_the_row_and_cancels_its_follow_up(owner):
    customer = make_customer(owner)
    comm = make_communication(owner, customer, next_action="Call back", next_action_due=date(2030, 1, 5))
    with tenant_scope(owner.tenant):
        services.communication_delete(actor=owner, communication=comm)
        assert not Communication.objects.alive().filter(pk=comm.pk).exists()
        assert Communication.objects.filter(pk=comm.pk).exists()
        assert FollowUp.objects.get(communication=comm).status == FollowUpStatus.CANCELLED


def test_overdue_follow_ups_are_reminded_once(owner, teammate):
    customer = make_customer(owner, assigned_manager=teammate)
    with time_machine.travel("2030-01-01 10:00 +0800", tick=False):
        make_communication(teammate, customer, next_action="Send report", next_action_due=date(2030, 1, 3))
    signalled = []
    follow_up_due.connect(lambda **kw: signalled.append(kw), weak=False, dispatch_uid="t2")
    try:
        with tenant_scope(owner.tenant):
            assert services.follow_up_reminders_send(today=date(2030, 1, 3))["reminded"] == 0  # due, not overdue
            assert services.follow_up_reminders_send(today=date(2030, 1, 4))["reminded"] == 1
            assert services.follow_up_reminders_send(today=date(2030, 1, 5))["reminded"] == 0
            assert Notification.objects.filter(recipient=teammate, kind="communication.follow_up_overdue").count() == 1
    finally:
        follow_up_due.disconnect(dispatch_uid="t2")
    assert len(signalled) == 1


def test_no_contact_reminder_goes_to_the_manager_once_per_gap(owner, teammate, settings):
    settings.CONTACT_INTERVAL_STRATEGIC_DAYS = 14
    with time_machine.travel("2030-03-01 09:00 +0800", tick=False):
        customer = make_customer(owner, assigned_manager=teammate, level=CustomerLevel.STRATEGIC)
        normal = make_customer(owner, assigned_manager=teammate, level=CustomerLevel.NORMAL)  # never reminded
        make_communication(teammate, customer)

    def run(day):
        with time_machine.travel(f"{day} 08:20 +0800", tick=False), tenant_scope(owner.tenant):
            return services.contact_gap_reminders_send(now=timezone.now())["reminded"]

    assert run("2030-03-14") == 0  # within 14 days
    assert run("2030-03-16") == 1
    assert run("2030-03-17") == 0  # same gap: never repeated daily
    assert run("2030-03-30") == 0
    with time_machine.travel("2030-03-31 09:00 +0800", tick=False):
        make_communication(teammate, customer)  # a new contact closes the gap
    assert run("2030-04-10") == 0
    assert run("2030-04-15") == 1  # a new gap, a new reminder
    with tenant_scope(owner.tenant):
        notes = Notification.objects.filter(recipient=teammate, kind="communication.no_contact")
        assert notes.count() == 2
        assert not notes.filter(object_id=str(normal.pk)).exists()


def test_merge_moves_communications_and_follow_ups_to_the_survivor(owner):
    survivor, duplicate = make_customer(owner), make_customer(owner)
    make_communication(owner, duplicate, next_action="Call", next_action_due=date(2030, 1, 1))
    make_communication(owner, duplicate)
    with tenant_scope(owner.tenant):
        result = services.communications_move_to_customer(source=duplicate, target=survivor)
        assert result == {"communications": 2, "follow_ups": 1}
        assert Communication.objects.filter(customer=survivor).count() == 2


def test_customer_merge_runs_the_receiver(owner):
    survivor, duplicate = make_customer(owner), make_customer(owner)
    make_communication(owner, duplicate)
    with tenant_scope(owner.tenant):
        customer_services.customer_merge(actor=owner, survivor=survivor, duplicate=duplicate)
        assert Communication.objects.filter(customer=survivor).count() == 1
        entry = AuditLog.objects.get(action="crm.customer.merged")
        assert entry.changes["communications_moved"]["new"] == 1


def test_bulk_create_stores_at_once_and_analyses_in_the_background(
    owner, django_capture_on_commit_callbacks, monkeypatch
):
    from communications import tasks

    queued = []
    monkeypatch.setattr(tasks.analyze_communications, "delay", lambda tenant, ids: queued.append((tenant, ids)))
    customer = make_customer(owner)
    with django_capture_on_commit_callbacks(execute=True), tenant_scope(owner.tenant):
        created = services.communications_bulk_create(
            actor=owner,
            customer=customer,
            items=[{"communication_type": 1, "direction": 1, "content": "客户投诉宕机"} for _ in range(3)],
        )
    assert all(c.sentiment is None for c in created)
    assert queued == [(owner.tenant_id, [c.pk for c in created])]
    tasks.analyze_communications(owner.tenant_id, queued[0][1])  # what the worker runs
    with tenant_scope(owner.tenant):
        assert set(Communication.objects.values_list("sentiment", flat=True)) == {1}


def test_a_very_long_note_is_analysed_in_the_background(owner, django_capture_on_commit_callbacks, monkeypatch):
    from communications import tasks

    queued = []
    monkeypatch.setattr(tasks.analyze_communications, "delay", lambda tenant, ids: queued.append(ids))
    customer = make_customer(owner)
    with django_capture_on_commit_callbacks(execute=True):
        comm = make_communication(owner, customer, content="客户投诉宕机。" * 1000)
    assert comm.sentiment is None and queued == [[comm.pk]]


def test_demo_command_gives_customers_an_analysed_history(owner):
    from django.core.management import call_command

    customer = make_customer(owner)
    call_command("generate_demo_communications", tenant=owner.tenant.name, per_customer=3)
    with tenant_scope(owner.tenant):
        rows = Communication.objects.filter(customer=customer)
        assert 1 <= rows.count() <= 3
        assert all(row.sentiment in (1, 2, 3) for row in rows)


def test_daily_jobs_are_registered_and_record_their_runs(owner, teammate, settings):
    from accounts.models import JobRun
    from accounts.registry import jobs
    from communications import tasks

    assert jobs.get("communication-follow-up-reminders").task == "communications.tasks.send_follow_up_reminders"
    assert jobs.get("communication-no-contact-reminders").task == "communications.tasks.send_no_contact_reminders"
    settings.CONTACT_INTERVAL_VIP_DAYS = 30
    with time_machine.travel("2030-01-01 09:00 +0800", tick=False):
        make_customer(owner, assigned_manager=teammate, level=CustomerLevel.VIP)
    with time_machine.travel("2030-02-15 09:00 +0800", tick=False):
        assert tasks.send_no_contact_reminders(owner.tenant_id)["reminded"] == 1
        assert tasks.send_no_contact_reminders(owner.tenant_id)["reminded"] == 0  # rerun: nothing twice
        assert tasks.send_follow_up_reminders(owner.tenant_id) == {"overdue": 0, "reminded": 0}
    from accounts.tenancy import unscoped

    with unscoped("test reads job runs"):
        names = set(JobRun.objects.filter(tenant=owner.tenant).values_list("job_name", flat=True))
    assert {"send_no_contact_reminders", "send_follow_up_reminders"} <= names
