//! The application state machine. One enum of states, one of actions, and one transition
//! function; everything that changes an application's state goes through `next`.
//!
//! ```text
//! draft ──submit──▶ submitted ──approve──▶ prereview_passed ──schedule_pickup──▶ pickup_scheduled
//!   │                 │  │  ▲                    │ (no originals to post)              │ picked_up
//!   │                 │  │  └──resubmit── returned ◀──return── (reception mismatch)   ▼
//!   │                 │  └──reject──▶ rejected   │                          originals_in_transit
//!   │                 │                          ▼                                     │ arrived
//!   │                 │                     at_department ◀──dispatch── received ◀─────┘
//!   │                 │                          │ decide
//!   │                 │              approved ◀──┴──▶ refused
//!   │                 │                 │ ship_result          (no paper result: complete)
//!   │                 │                 ▼
//!   │                 │         result_in_delivery ──deliver/confirm──▶ completed
//!   └──cancel─────────┴──cancel──▶ cancelled   (also from returned)
//! ```

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApplicationState {
    Draft,
    Submitted,
    Returned,
    Rejected,
    PrereviewPassed,
    PickupScheduled,
    /// The citizen chose to leave the originals in the centre's 24-hour box.
    AwaitingDropOff,
    OriginalsInTransit,
    Received,
    AtDepartment,
    Approved,
    Refused,
    ResultInDelivery,
    Completed,
    Cancelled,
}

pub const ALL_STATES: [ApplicationState; 15] = {
    use ApplicationState::*;
    [
        Draft,
        Submitted,
        Returned,
        Rejected,
        PrereviewPassed,
        PickupScheduled,
        AwaitingDropOff,
        OriginalsInTransit,
        Received,
        AtDepartment,
        Approved,
        Refused,
        ResultInDelivery,
        Completed,
        Cancelled,
    ]
};

impl ApplicationState {
    pub fn as_str(self) -> &'static str {
        use ApplicationState::*;
        match self {
            Draft => "draft",
            Submitted => "submitted",
            Returned => "returned",
            Rejected => "rejected",
            PrereviewPassed => "prereview_passed",
            PickupScheduled => "pickup_scheduled",
            AwaitingDropOff => "awaiting_drop_off",
            OriginalsInTransit => "originals_in_transit",
            Received => "received",
            AtDepartment => "at_department",
            Approved => "approved",
            Refused => "refused",
            ResultInDelivery => "result_in_delivery",
            Completed => "completed",
            Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        ALL_STATES.into_iter().find(|state| state.as_str() == s)
    }

    /// Entering this state is news to the citizen: the event that sends them a message, named as
    /// in `wechat.subscribe.templates`. The citizen's own cancel is not.
    pub fn citizen_event(self) -> Option<&'static str> {
        use ApplicationState::*;
        match self {
            Submitted | Returned | Rejected | PrereviewPassed | OriginalsInTransit | Received
            | Refused | ResultInDelivery | Completed => Some(self.as_str()),
            // `approved` is followed at once by `result_in_delivery` or `completed`, which say
            // it; `at_department` follows `received` (or pre-review) within the same day.
            Draft | PickupScheduled | AwaitingDropOff | AtDepartment | Approved | Cancelled => None,
        }
    }

    /// The message an event sends the citizen, by `action` into this state: the state's own news
    /// (`citizen_event`), or a reminder that moves nothing.
    pub fn citizen_news(self, action: Action) -> Option<&'static str> {
        match action {
            Action::RemindDropOff => Some(DROP_OFF_REMINDER),
            _ => self.citizen_event(),
        }
    }

    /// What a citizen reads for the state: short, for a message's `phrase` field.
    pub fn label_zh(self) -> &'static str {
        use ApplicationState::*;
        match self {
            Draft => "草稿",
            Submitted => "已提交",
            Returned => "退回补正",
            Rejected => "不予受理",
            PrereviewPassed => "预审通过",
            PickupScheduled => "待取件",
            AwaitingDropOff => "待投递原件",
            OriginalsInTransit => "原件寄送中",
            Received => "原件已签收",
            AtDepartment => "部门审批中",
            Approved => "审批通过",
            Refused => "审批不通过",
            ResultInDelivery => "结果寄送中",
            Completed => "已办结",
            Cancelled => "已撤回",
        }
    }

    /// Pages may be added, removed or reordered only in these states.
    pub fn pages_editable(self) -> bool {
        matches!(self, Self::Draft | Self::Returned)
    }
}

impl fmt::Display for ApplicationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The message of a drop not found in the box in time (`Action::RemindDropOff`).
pub const DROP_OFF_REMINDER: &str = "drop_off_reminder";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// The citizen starts a draft (an event, not a move: there is no state before it).
    Create,
    /// The citizen submits a draft.
    Submit,
    /// The citizen resubmits a returned case.
    Resubmit,
    /// The citizen withdraws before the pre-review decision.
    Cancel,
    /// Pre-review passes.
    Approve,
    /// Pre-review sends it back with reasons per material.
    Return,
    /// Pre-review refuses it for good.
    Reject,
    /// The citizen books the courier pickup of the originals.
    SchedulePickup,
    /// The citizen moves the booked pickup to another address or window.
    ReschedulePickup,
    /// The citizen cancels the pickup before the courier came.
    CancelPickup,
    /// An item whose originals are not posted goes straight to the department.
    SkipPickup,
    /// The citizen will leave the originals in the centre's 24-hour box (the item allows it).
    ChooseDropOff,
    /// The citizen takes back the drop-off before the box was emptied (to book a pickup).
    CancelDropOff,
    /// The drop was not found in the box in time: flagged, and the citizen reminded (an event).
    RemindDropOff,
    /// The courier collected the originals.
    PickUp,
    /// The courier delivered the originals at the centre (an event; reception moves the case).
    OriginalsDelivered,
    /// The courier brought mismatched originals back to the citizen (an event).
    OriginalsReturned,
    /// Reception found the originals match the photos.
    Receive,
    /// Reception found they do not: back to the citizen with the reasons.
    ReceiveMismatch,
    /// A dispatch batch carried the originals to the department.
    Dispatch,
    /// The department grants the application.
    DepartmentApprove,
    /// The department refuses it.
    DepartmentRefuse,
    /// A paper result goes to the citizen by courier (leg 2).
    ShipResult,
    /// Nothing is posted back: the case ends with the decision.
    Complete,
    /// The courier delivered the result.
    DeliverResult,
    /// The citizen says the result arrived (before the courier's push did).
    ConfirmReceipt,
    /// Nobody confirmed a delivered result in time: the service does.
    AutoConfirmReceipt,
    /// The citizen filled a material with a document from their wallet (an event).
    AttachDocument,
    /// A reviewer found a reused document unusable and took it out of the wallet (an event).
    InvalidateDocument,
}

pub const ALL_ACTIONS: [Action; 29] = {
    use Action::*;
    [
        Create,
        Submit,
        Resubmit,
        Cancel,
        Approve,
        Return,
        Reject,
        SchedulePickup,
        ReschedulePickup,
        CancelPickup,
        SkipPickup,
        ChooseDropOff,
        CancelDropOff,
        RemindDropOff,
        PickUp,
        OriginalsDelivered,
        OriginalsReturned,
        Receive,
        ReceiveMismatch,
        Dispatch,
        DepartmentApprove,
        DepartmentRefuse,
        ShipResult,
        Complete,
        DeliverResult,
        ConfirmReceipt,
        AutoConfirmReceipt,
        AttachDocument,
        InvalidateDocument,
    ]
};

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Submit => "submit",
            Self::Resubmit => "resubmit",
            Self::Cancel => "cancel",
            Self::Approve => "approve",
            Self::Return => "return",
            Self::Reject => "reject",
            Self::SchedulePickup => "schedule_pickup",
            Self::ReschedulePickup => "reschedule_pickup",
            Self::CancelPickup => "cancel_pickup",
            Self::ChooseDropOff => "choose_drop_off",
            Self::CancelDropOff => "cancel_drop_off",
            Self::RemindDropOff => "remind_drop_off",
            Self::SkipPickup => "skip_pickup",
            Self::PickUp => "pick_up",
            Self::OriginalsDelivered => "originals_delivered",
            Self::OriginalsReturned => "originals_returned",
            Self::Receive => "receive",
            Self::ReceiveMismatch => "receive_mismatch",
            Self::Dispatch => "dispatch",
            Self::DepartmentApprove => "department_approve",
            Self::DepartmentRefuse => "department_refuse",
            Self::ShipResult => "ship_result",
            Self::Complete => "complete",
            Self::DeliverResult => "deliver_result",
            Self::ConfirmReceipt => "confirm_receipt",
            Self::AutoConfirmReceipt => "auto_confirm_receipt",
            Self::AttachDocument => "attach_document",
            Self::InvalidateDocument => "invalidate_document",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        ALL_ACTIONS.into_iter().find(|action| action.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot {} an application that is {}", action.as_str(), from.as_str())]
pub struct TransitionRefused {
    pub from: ApplicationState,
    pub action: Action,
}

/// The state `action` leads to from `from`, or a refusal.
pub fn next(from: ApplicationState, action: Action) -> Result<ApplicationState, TransitionRefused> {
    use ApplicationState::*;
    let to = match (from, action) {
        (Draft, Action::Submit) | (Returned, Action::Resubmit) => Submitted,
        (Draft | Submitted | Returned, Action::Cancel) => Cancelled,
        (Submitted, Action::Approve) => PrereviewPassed,
        (Submitted, Action::Return) => Returned,
        (Submitted, Action::Reject) => Rejected,
        (PrereviewPassed, Action::SchedulePickup) => PickupScheduled,
        (PickupScheduled, Action::ReschedulePickup) => PickupScheduled,
        (PickupScheduled, Action::CancelPickup) => PrereviewPassed,
        (PrereviewPassed, Action::SkipPickup) => AtDepartment,
        (PickupScheduled, Action::PickUp) => OriginalsInTransit,
        (PrereviewPassed, Action::ChooseDropOff) => AwaitingDropOff,
        (AwaitingDropOff, Action::CancelDropOff) => PrereviewPassed,
        // Reception found the envelope when it emptied the box.
        (AwaitingDropOff, Action::PickUp) => OriginalsInTransit,
        (OriginalsInTransit, Action::Receive) => Received,
        (OriginalsInTransit, Action::ReceiveMismatch) => Returned,
        (Received, Action::Dispatch) => AtDepartment,
        (AtDepartment, Action::DepartmentApprove) => Approved,
        (AtDepartment, Action::DepartmentRefuse) => Refused,
        (Approved, Action::ShipResult) => ResultInDelivery,
        (Approved, Action::Complete) => Completed,
        (
            ResultInDelivery,
            Action::DeliverResult | Action::ConfirmReceipt | Action::AutoConfirmReceipt,
        ) => Completed,
        _ => return Err(TransitionRefused { from, action }),
    };
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_round_trip() {
        for action in ALL_ACTIONS {
            assert_eq!(Action::parse(action.as_str()), Some(action));
        }
    }

    #[test]
    fn events_that_move_nothing_are_refused_as_moves() {
        for state in ALL_STATES {
            for action in [
                Action::Create,
                Action::OriginalsDelivered,
                Action::OriginalsReturned,
                Action::AttachDocument,
                Action::InvalidateDocument,
                Action::RemindDropOff,
            ] {
                assert!(next(state, action).is_err(), "{state} {action:?}");
            }
        }
    }

    #[test]
    fn state_names_round_trip() {
        for state in ALL_STATES {
            assert_eq!(ApplicationState::parse(state.as_str()), Some(state));
        }
        assert_eq!(ApplicationState::parse("nope"), None);
    }

    #[test]
    fn the_pickup_leg_follows_the_machine() {
        use ApplicationState::*;
        assert_eq!(
            next(PrereviewPassed, Action::SchedulePickup),
            Ok(PickupScheduled)
        );
        assert_eq!(
            next(PickupScheduled, Action::CancelPickup),
            Ok(PrereviewPassed)
        );
        assert_eq!(
            next(PickupScheduled, Action::PickUp),
            Ok(OriginalsInTransit)
        );
        assert_eq!(next(PrereviewPassed, Action::SkipPickup), Ok(AtDepartment));
        for early in [Draft, Submitted, Returned, Rejected, Cancelled] {
            assert!(next(early, Action::SchedulePickup).is_err(), "{early}");
        }
        assert!(next(OriginalsInTransit, Action::CancelPickup).is_err());
        assert_eq!(next(OriginalsInTransit, Action::Receive), Ok(Received));
        assert_eq!(
            next(OriginalsInTransit, Action::ReceiveMismatch),
            Ok(Returned)
        );
        assert_eq!(next(Received, Action::Dispatch), Ok(AtDepartment));
        assert!(next(PickupScheduled, Action::Receive).is_err());
    }

    #[test]
    fn the_department_and_result_leg_follow_the_machine() {
        use ApplicationState::*;
        assert_eq!(next(AtDepartment, Action::DepartmentApprove), Ok(Approved));
        assert_eq!(next(AtDepartment, Action::DepartmentRefuse), Ok(Refused));
        assert_eq!(next(Approved, Action::ShipResult), Ok(ResultInDelivery));
        assert_eq!(next(Approved, Action::Complete), Ok(Completed));
        assert_eq!(next(ResultInDelivery, Action::DeliverResult), Ok(Completed));
        assert_eq!(
            next(ResultInDelivery, Action::ConfirmReceipt),
            Ok(Completed)
        );
        for not_there in [Received, Approved, Refused, Completed, Submitted] {
            assert!(
                next(not_there, Action::DepartmentApprove).is_err(),
                "{not_there}"
            );
        }
        assert!(next(Refused, Action::ShipResult).is_err());
        assert!(next(Completed, Action::ConfirmReceipt).is_err());
    }

    #[test]
    fn submit_and_cancel_follow_the_machine() {
        use ApplicationState::*;
        assert_eq!(next(Draft, Action::Submit), Ok(Submitted));
        assert_eq!(next(Returned, Action::Resubmit), Ok(Submitted));
        assert!(next(Returned, Action::Submit).is_err());
        assert!(next(Draft, Action::Resubmit).is_err());
        assert!(next(Submitted, Action::Submit).is_err());
        assert_eq!(next(Submitted, Action::Cancel), Ok(Cancelled));
        for done in [Cancelled, Rejected, Completed, PrereviewPassed] {
            assert!(next(done, Action::Cancel).is_err(), "{done}");
        }
    }
}
