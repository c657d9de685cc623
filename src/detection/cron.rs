//! Five-field cron schedules in a time zone, for scheduled drills. Pure.

use jiff::{
    ToSpan, Zoned,
    civil::{DateTime, Time},
    tz::TimeZone,
};
use k8s_openapi::jiff::Timestamp;

/// A parsed schedule: the allowed values of each field, and its time zone.
#[derive(Clone, Debug)]
pub struct Schedule {
    minutes: Vec<bool>,
    hours: Vec<bool>,
    days: Vec<bool>,
    months: Vec<bool>,
    weekdays: Vec<bool>,
    /// Cron's rule: when both day fields are restricted, a day matching either is due.
    days_restricted: bool,
    weekdays_restricted: bool,
    zone: TimeZone,
}

impl Schedule {
    /// Parses `minute hour day-of-month month day-of-week` (numbers, `*`, `a-b`, `a,b`, `/n`;
    /// day-of-week 0 or 7 is Sunday) in the IANA time zone `zone`.
    pub fn parse(text: &str, zone: &str) -> Result<Self, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = fields.as_slice() else {
            return Err(format!(
                "schedule {text:?} must have five fields: minute hour day-of-month month day-of-week"
            ));
        };
        let zone = TimeZone::get(zone).map_err(|e| format!("time zone {zone:?}: {e}"))?;
        let mut weekdays = field(weekday, 0, 7, "day-of-week")?;
        if weekdays[7] {
            weekdays[0] = true;
        }
        Ok(Self {
            minutes: field(minute, 0, 59, "minute")?,
            hours: field(hour, 0, 23, "hour")?,
            days: field(day, 1, 31, "day-of-month")?,
            months: field(month, 1, 12, "month")?,
            weekdays,
            days_restricted: *day != "*",
            weekdays_restricted: *weekday != "*",
            zone,
        })
    }

    /// The first time after `after` (strictly) that the schedule is due, within four years.
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        let start = after.to_zoned(self.zone.clone()).datetime();
        let mut at = start.with().second(0).subsec_nanosecond(0).build().ok()?;
        at = at.checked_add(1.minute()).ok()?;
        let limit = start.checked_add(4.years()).ok()?;
        while at < limit {
            if !self.months[at.month() as usize] {
                at = at
                    .first_of_month()
                    .checked_add(1.month())
                    .ok()?
                    .with()
                    .time(Time::midnight())
                    .build()
                    .ok()?;
                continue;
            }
            if !self.day_matches(&at) {
                at = at.date().tomorrow().ok()?.to_datetime(Time::midnight());
                continue;
            }
            if !self.hours[at.hour() as usize] {
                at = at.with().minute(0).build().ok()?.checked_add(1.hour()).ok()?;
                continue;
            }
            if !self.minutes[at.minute() as usize] {
                at = at.checked_add(1.minute()).ok()?;
                continue;
            }
            // A local time skipped by a DST change maps to just after the gap.
            let when = zoned(at, &self.zone)?.timestamp();
            if when > after {
                return Some(when);
            }
            at = at.checked_add(1.minute()).ok()?;
        }
        None
    }

    fn day_matches(&self, at: &DateTime) -> bool {
        let day = self.days[at.day() as usize];
        let weekday = self.weekdays[at.weekday().to_sunday_zero_offset() as usize];
        match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => day || weekday,
            _ => day && weekday,
        }
    }
}

fn zoned(at: DateTime, zone: &TimeZone) -> Option<Zoned> {
    at.to_zoned(zone.clone()).ok()
}

/// The allowed values of one field, indexed by value (`0..=max`).
fn field(text: &str, min: u32, max: u32, name: &str) -> Result<Vec<bool>, String> {
    let bad = |why: &str| format!("{name} field {text:?}: {why}");
    let mut allowed = vec![false; max as usize + 1];
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (
                range,
                step.parse::<u32>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| bad("a step must be a positive number"))?,
            ),
            None => (part, 1),
        };
        let number = |s: &str| {
            s.parse::<u32>()
                .ok()
                .filter(|v| (min..=max).contains(v))
                .ok_or_else(|| bad(&format!("{s:?} is not a number from {min} to {max}")))
        };
        let (from, to) = match range {
            "*" => (min, max),
            _ => match range.split_once('-') {
                Some((a, b)) => (number(a)?, number(b)?),
                None if part.contains('/') => (number(range)?, max),
                None => {
                    let v = number(range)?;
                    (v, v)
                }
            },
        };
        if from > to {
            return Err(bad(&format!("range {from}-{to} runs backwards")));
        }
        for v in (from..=to).step_by(step as usize) {
            allowed[v as usize] = true;
        }
    }
    Ok(allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn next(schedule: &str, zone: &str, after: &str) -> String {
        Schedule::parse(schedule, zone)
            .unwrap()
            .next_after(at(after))
            .unwrap()
            .to_string()
    }

    #[test]
    fn every_minute_is_the_next_whole_minute() {
        assert_eq!(next("* * * * *", "UTC", "2026-11-23T10:15:30Z"), "2026-11-23T10:16:00Z");
        assert_eq!(next("* * * * *", "UTC", "2026-11-23T10:15:00Z"), "2026-11-23T10:16:00Z");
    }

    #[test]
    fn weekly_in_a_time_zone() {
        // Tuesdays at 10:00 in Berlin (CET, UTC+1 in November).
        assert_eq!(
            next("0 10 * * 2", "Europe/Berlin", "2026-11-23T12:00:00Z"),
            "2026-11-24T09:00:00Z"
        );
        // Sunday as 7.
        assert_eq!(
            next("30 6 * * 7", "UTC", "2026-11-23T00:00:00Z"),
            "2026-11-29T06:30:00Z"
        );
    }

    #[test]
    fn ranges_lists_and_steps() {
        assert_eq!(
            next("*/15 * * * *", "UTC", "2026-11-23T10:16:00Z"),
            "2026-11-23T10:30:00Z"
        );
        assert_eq!(
            next("5 1-3,22 * * *", "UTC", "2026-11-23T03:06:00Z"),
            "2026-11-23T22:05:00Z"
        );
        assert_eq!(
            next("0 0 1 */3 *", "UTC", "2026-11-23T00:00:00Z"),
            "2027-01-01T00:00:00Z"
        );
        assert_eq!(
            next("0 12 29 2 *", "UTC", "2026-11-23T00:00:00Z"),
            "2028-02-29T12:00:00Z"
        );
    }

    #[test]
    fn both_day_fields_restricted_means_either() {
        // The 1st of the month or any Monday: Monday the 23rd comes first.
        assert_eq!(next("0 9 1 * 1", "UTC", "2026-11-22T00:00:00Z"), "2026-11-23T09:00:00Z");
    }

    #[test]
    fn a_time_skipped_by_daylight_saving_runs_after_the_gap() {
        // 02:30 does not exist in Berlin on 2027-03-28.
        assert_eq!(
            next("30 2 28 3 *", "Europe/Berlin", "2027-03-27T00:00:00Z"),
            "2027-03-28T01:30:00Z"
        );
    }

    #[test]
    fn bad_schedules_say_what_is_wrong() {
        let err = |s: &str, z: &str| Schedule::parse(s, z).unwrap_err();
        assert!(err("* * * *", "UTC").contains("five fields"));
        assert!(err("60 * * * *", "UTC").contains("minute field"));
        assert!(err("* * * * mon", "UTC").contains("day-of-week"));
        assert!(err("*/0 * * * *", "UTC").contains("positive"));
        assert!(err("5-1 * * * *", "UTC").contains("backwards"));
        assert!(err("* * * * *", "Mars/Olympus").contains("time zone"));
    }
}
