"""Time (SPEC §7): instants, IANA zones, durations, schedules, freeze and change windows, the
calendar.
"""
