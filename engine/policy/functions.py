"""The functions changegate adds to CEL, as data: name, parameters, result and what each does
(docs/policies.md shows them). The Library method of the same name in snake case implements
each (``scheduleStart`` is ``Library.fn_schedule_start``)."""

from __future__ import annotations

from typing import Final

from engine.cel import CelType

DECLARATIONS: Final[tuple[tuple[str, tuple[CelType, ...], CelType, str], ...]] = (
    ('now', (), CelType.TIMESTAMP,
     'The instant being judged (--at).'),
    ('instant', (CelType.STRING,), CelType.TIMESTAMP,
     "A date or date-time string as an instant; without offset it is read in the config's "
     'time zone.'),
    ('scheduleStart', (CelType.MAP,), CelType.TIMESTAMP,
     "When a schedule (a change request's spec.schedule) starts, in its zone."),
    ('scheduleEnd', (CelType.MAP,), CelType.TIMESTAMP,
     'When a schedule ends: its end, or its start plus the elapsed duration.'),
    ('submittedAt', (CelType.MAP,), CelType.TIMESTAMP,
     "When a change was submitted, given its spec.requestor: the pull request's creation, "
     "else the requestor's date, else now()."),
    ('earliestStart', (CelType.STRING, CelType.TIMESTAMP), CelType.TIMESTAMP,
     "The submission time plus the change type's lead time (business days skip weekends and "
     "the config's holidays)."),
    ('requiresLeadTime', (CelType.STRING,), CelType.BOOL,
     'Whether the change type has a lead time above zero.'),
    ('addBusinessDays', (CelType.TIMESTAMP, CelType.INT), CelType.TIMESTAMP,
     'The same local time n business days later.'),
    ('businessDaysBetween', (CelType.TIMESTAMP, CelType.TIMESTAMP), CelType.INT,
     "Business days from the first instant's day to the second's."),
    ('semverCompare', (CelType.STRING, CelType.STRING), CelType.INT,
     '-1, 0 or 1 by semantic version precedence.'),
    ('semverBump', (CelType.STRING, CelType.STRING), CelType.STRING,
     'major, minor, patch, none or downgrade, from the first version to the second.'),
    ('semverNext', (CelType.STRING, CelType.STRING), CelType.STRING,
     "The next version for a bump: semverNext('2.5.3', 'minor') is '2.6.0'."),
    ('previousRelease', (CelType.STRING,), CelType.STRING,
     'For the release plan of that name: the highest released version of its service below '
     "its version ('' if none)."),
    ('release', (CelType.STRING,), CelType.DYN,
     'The ReleasePlan document of that name, or null.'),
    ('changeTemplate', (CelType.STRING,), CelType.DYN,
     'The standard change template of that name from the config, or null.'),
    ('overlappingChanges', (CelType.STRING,), CelType.STRING_LIST,
     'For the change request of that name: the other active change requests on its '
     'environment and a shared service whose schedules overlap its own.'),
    ('requiresPostReview', (CelType.STRING,), CelType.BOOL,
     'Whether changes of the type need a review after the fact (changeTypes.*.postReview; '
     'emergency by default).'),
    ('postReviewDue', (CelType.STRING, CelType.TIMESTAMP), CelType.TIMESTAMP,
     'When the post-review of a change of the type that started at the instant is due (start '
     'plus postReview.within).'),
    ('freezeConflicts', (CelType.STRING,), CelType.STRING_LIST,
     'For the change request of that name: why its schedule may not happen (freezes it '
     'overlaps and cannot pass, change windows it is outside of), each citing the window and '
     'when it opens.'),
    ('releaseFreezeConflicts', (CelType.STRING,), CelType.STRING_LIST,
     'For the release plan of that name: the freezes and closed change windows its '
     'deployment window meets.'),
    ('activeFreezes', (CelType.STRING, CelType.STRING, CelType.TIMESTAMP), CelType.STRING_LIST,
     'Names of the freezes that apply to an environment and service at an instant.'),
    ('changeWindowOpen', (CelType.STRING, CelType.STRING, CelType.TIMESTAMP), CelType.BOOL,
     'Whether changes to an environment and service may happen at an instant as far as '
     'change windows go (true where no change window applies).'),
    ('errorBudget', (CelType.STRING,), CelType.DYN,
     "The service's error budget at now() (null without an SLO in changegate.yaml): "
     '{service, target, period, start, end, allowedMinutes, usedMinutes, remainingMinutes, '
     'remaining (fraction left: 1 untouched, 0 or less spent), burnRate, exhausted, low (below '
     'slo.warnBelow), warnBelow (fraction), incidents (names), summary (a sentence), unknown '
     '(an incident file could not be read: exhausted is then true, fail closed)}; numbers are '
     'doubles.'),
    ('ignoredApprovals', (), CelType.STRING_LIST,
     'Why reviews did not count as approvals, one sentence each.'),
    ('vetoes', (CelType.STRING,), CelType.STRING_LIST,
     'The people holding the role whose latest review requests changes: they block the '
     "role's requirements until they approve or the review is dismissed."),
    ('placeholders', (CelType.STRING, CelType.STRING), CelType.STRING_LIST,
     "For the document of that kind and name: the values still holding text left from a "
     "scaffold ('[Name]', 'Step 1', 'Detailed description ...', a to-do marker), as "
     "\"spec.implementation[0]: 'Step 1'\"."),
    ('changed', (CelType.STRING, CelType.STRING), CelType.BOOL,
     'Whether the pull request changes the document of that kind and name (true when '
     'unknown).'),
    ('roleHolders', (CelType.STRING,), CelType.STRING,
     "Who holds a role, for messages: 'team acme/cab, user dana', with any team whose "
     'membership is unknown.'),
    ('matchesAny', (CelType.STRING, CelType.LIST), CelType.BOOL,
     'Whether a name matches any of the glob patterns (*, ?, {a,b}).'),
    ('join', (CelType.LIST, CelType.STRING), CelType.STRING,
     'The items as text, joined by the separator.'),
    ('largest', (CelType.LIST,), CelType.INT,
     'The largest integer of a list (0 if empty).'),
)  # fmt: skip
