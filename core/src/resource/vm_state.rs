//! The VM state machine and the actions a user can ask of a VM.

use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// Where a VM is in its life.
///
/// Legal moves, and why:
/// - `Pending → Provisioning`: the job has placed the VM and starts building it.
/// - `Pending → Failed`, `Provisioning → Failed`: placement or provisioning failed for good.
/// - `Provisioning → Running`: the VM booted.
/// - `Running ⇄ Stopped`: stop and start. There is no `Stopping`/`Starting` state: the job row
///   shows the progress of a long operation, the VM state is only ever a settled fact.
/// - `Running → Destroying`, `Stopped → Destroying`, `Failed → Destroying`: destroy.
/// - `Destroying → Destroyed`: teardown finished; `Destroyed` is final.
/// - `Destroying → Failed`: teardown failed; destroying again from `Failed` retries it.
///
/// Everything else is refused, including a move to the same state: a reboot or a resize leaves
/// the state as it is and is not a transition. A running VM that hits trouble stays in its state and
/// the failing job records the error, so a `Failed` VM always means "this VM needs destroying".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VmState {
    /// Accepted, waiting for the job to place it.
    Pending,
    /// Being built on its host.
    Provisioning,
    /// Booted.
    Running,
    /// Shut down; disk and addresses are kept.
    Stopped,
    /// Being torn down.
    Destroying,
    /// Gone. Final.
    Destroyed,
    /// Provisioning or teardown failed; the only way on is to destroy it.
    Failed,
}

/// A state change the state machine does not allow.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
#[error("A VM cannot go from {from} to {to}.")]
pub struct IllegalTransition {
    /// The current state.
    pub from: VmState,
    /// The state that was asked for.
    pub to: VmState,
}

/// A stored state name that is not a [`VmState`].
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("There is no VM state {0:?}.")]
pub struct UnknownVmState(pub String);

impl VmState {
    /// Every state, in life order.
    pub const ALL: [VmState; 7] = [
        VmState::Pending,
        VmState::Provisioning,
        VmState::Running,
        VmState::Stopped,
        VmState::Destroying,
        VmState::Destroyed,
        VmState::Failed,
    ];

    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            VmState::Pending => "pending",
            VmState::Provisioning => "provisioning",
            VmState::Running => "running",
            VmState::Stopped => "stopped",
            VmState::Destroying => "destroying",
            VmState::Destroyed => "destroyed",
            VmState::Failed => "failed",
        }
    }

    /// Parses a stored state name.
    pub fn parse(raw: &str) -> Result<Self, UnknownVmState> {
        VmState::ALL
            .into_iter()
            .find(|state| state.as_str() == raw)
            .ok_or_else(|| UnknownVmState(raw.to_owned()))
    }

    /// Whether the state machine allows moving from `self` to `to` (see the type's documentation).
    pub fn can_transition(self, to: VmState) -> bool {
        use VmState::*;
        matches!(
            (self, to),
            (Pending, Provisioning)
                | (Pending, Failed)
                | (Provisioning, Running)
                | (Provisioning, Failed)
                | (Running, Stopped)
                | (Stopped, Running)
                | (Running, Destroying)
                | (Stopped, Destroying)
                | (Failed, Destroying)
                | (Destroying, Destroyed)
                | (Destroying, Failed)
        )
    }

    /// Moves to `to` if that is legal.
    pub fn transition(self, to: VmState) -> Result<VmState, IllegalTransition> {
        if self.can_transition(to) {
            Ok(to)
        } else {
            Err(IllegalTransition { from: self, to })
        }
    }

    /// Whether a job is working on the VM right now (the UI shows progress instead of buttons).
    pub fn is_in_progress(self) -> bool {
        matches!(
            self,
            VmState::Pending | VmState::Provisioning | VmState::Destroying
        )
    }

    /// Whether nothing can ever happen to the VM again.
    pub fn is_final(self) -> bool {
        self == VmState::Destroyed
    }
}

impl fmt::Display for VmState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something a user can ask a VM to do; each is a button on the VM page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VmAction {
    /// Stopped → Running.
    Start,
    /// Running → Stopped.
    Stop,
    /// Restart a running VM; the state stays Running.
    Reboot,
    /// Change the size of a stopped VM; the state stays Stopped.
    Resize,
    /// Running, Stopped or Failed → Destroying.
    Destroy,
    /// Give a running or stopped VM a public address; the state stays.
    OpenBreakout,
    /// Take a running or stopped VM's public address away; the state stays.
    CloseBreakout,
}

impl VmAction {
    /// Every action, in the order of the buttons.
    pub const ALL: [VmAction; 7] = [
        VmAction::Start,
        VmAction::Stop,
        VmAction::Reboot,
        VmAction::Resize,
        VmAction::Destroy,
        VmAction::OpenBreakout,
        VmAction::CloseBreakout,
    ];

    /// The name used in URLs and job rows.
    pub fn as_str(self) -> &'static str {
        match self {
            VmAction::Start => "start",
            VmAction::Stop => "stop",
            VmAction::Reboot => "reboot",
            VmAction::Resize => "resize",
            VmAction::Destroy => "destroy",
            VmAction::OpenBreakout => "open_breakout",
            VmAction::CloseBreakout => "close_breakout",
        }
    }

    /// The state the action moves the VM to, or `None` when it leaves the state alone.
    pub fn target_state(self) -> Option<VmState> {
        match self {
            VmAction::Start => Some(VmState::Running),
            VmAction::Stop => Some(VmState::Stopped),
            VmAction::Destroy => Some(VmState::Destroying),
            VmAction::Reboot | VmAction::Resize | VmAction::OpenBreakout | VmAction::CloseBreakout => None,
        }
    }

    /// Whether the action may run on a VM in `state`; the error is the reason to show next to the
    /// disabled button ("Stop the VM before resizing it.").
    pub fn allowed_in(self, state: VmState) -> Result<(), String> {
        let refusal = match (self, state) {
            (VmAction::Start, VmState::Stopped)
            | (VmAction::Stop | VmAction::Reboot, VmState::Running)
            | (VmAction::Resize, VmState::Stopped)
            | (VmAction::Destroy, VmState::Running | VmState::Stopped | VmState::Failed)
            | (VmAction::OpenBreakout | VmAction::CloseBreakout, VmState::Running | VmState::Stopped) => {
                return Ok(());
            }
            (_, VmState::Pending | VmState::Provisioning) => "Wait until the VM has finished provisioning.",
            (VmAction::Destroy, VmState::Destroying) => "The VM is already being destroyed.",
            (_, VmState::Destroying) => "The VM is being destroyed.",
            (_, VmState::Destroyed) => "The VM has been destroyed.",
            (_, VmState::Failed) => "Something went wrong with this VM; destroy it and create a new one.",
            (VmAction::Start, VmState::Running) => "The VM is already running.",
            (VmAction::Stop, VmState::Stopped) => "The VM is already stopped.",
            (VmAction::Reboot, VmState::Stopped) => "The VM is stopped; start it instead.",
            (VmAction::Resize, VmState::Running) => "Stop the VM before resizing it.",
        };
        Err(refusal.to_owned())
    }

    /// [`VmAction::allowed_in`], and for the breakout actions whether the VM's breakout
    /// (`breakout`: it has a public address or one is on its way) leaves anything to do.
    pub fn allowed_for(self, state: VmState, breakout: bool) -> Result<(), String> {
        self.allowed_in(state)?;
        match (self, breakout) {
            (VmAction::OpenBreakout, true) => Err("The VM already has internet breakout.".to_owned()),
            (VmAction::CloseBreakout, false) => Err("The VM has no internet breakout.".to_owned()),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for VmAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEGAL: [(VmState, VmState); 11] = {
        use VmState::*;
        [
            (Pending, Provisioning),
            (Pending, Failed),
            (Provisioning, Running),
            (Provisioning, Failed),
            (Running, Stopped),
            (Stopped, Running),
            (Running, Destroying),
            (Stopped, Destroying),
            (Failed, Destroying),
            (Destroying, Destroyed),
            (Destroying, Failed),
        ]
    };

    #[test]
    fn only_the_documented_transitions_are_legal() {
        for from in VmState::ALL {
            for to in VmState::ALL {
                let legal = LEGAL.contains(&(from, to));
                assert_eq!(from.can_transition(to), legal, "{from} -> {to}");
                match from.transition(to) {
                    Ok(next) => {
                        assert!(legal, "{from} -> {to} must be refused");
                        assert_eq!(next, to);
                    }
                    Err(err) => {
                        assert!(!legal, "{from} -> {to} must be allowed");
                        assert_eq!(err, IllegalTransition { from, to });
                    }
                }
            }
        }
    }

    #[test]
    fn reboot_is_not_a_transition_and_destroyed_is_final() {
        assert!(VmState::Running.transition(VmState::Running).is_err());
        assert_eq!(
            VmState::Destroyed
                .transition(VmState::Running)
                .unwrap_err()
                .to_string(),
            "A VM cannot go from destroyed to running."
        );
        assert!(
            VmState::ALL
                .iter()
                .all(|&to| !VmState::Destroyed.can_transition(to))
        );
        assert!(VmState::Destroyed.is_final());
        assert!(VmState::Provisioning.is_in_progress() && !VmState::Running.is_in_progress());
    }

    #[test]
    fn a_typical_life_walks_through_the_machine() {
        let mut state = VmState::Pending;
        for next in [
            VmState::Provisioning,
            VmState::Running,
            VmState::Stopped,
            VmState::Running,
            VmState::Destroying,
            VmState::Destroyed,
        ] {
            state = state.transition(next).unwrap();
        }
        assert_eq!(state, VmState::Destroyed);
    }

    #[test]
    fn states_round_trip_through_text() {
        for state in VmState::ALL {
            assert_eq!(VmState::parse(state.as_str()), Ok(state));
            assert_eq!(serde_json::to_string(&state).unwrap(), format!("\"{state}\""));
        }
        assert!(VmState::parse("stopping").is_err());
    }

    #[test]
    fn actions_agree_with_the_state_machine() {
        for action in VmAction::ALL {
            for state in VmState::ALL {
                let allowed = action.allowed_in(state);
                if let (Ok(()), Some(target)) = (&allowed, action.target_state()) {
                    assert!(state.can_transition(target), "{action} in {state}");
                }
                if let Err(reason) = &allowed {
                    assert!(reason.ends_with('.') && !reason.is_empty(), "{action} in {state}");
                }
            }
        }
        let allowed: Vec<(VmAction, VmState)> = VmAction::ALL
            .into_iter()
            .flat_map(|a| VmState::ALL.into_iter().map(move |s| (a, s)))
            .filter(|(a, s)| a.allowed_in(*s).is_ok())
            .collect();
        assert_eq!(
            allowed,
            vec![
                (VmAction::Start, VmState::Stopped),
                (VmAction::Stop, VmState::Running),
                (VmAction::Reboot, VmState::Running),
                (VmAction::Resize, VmState::Stopped),
                (VmAction::Destroy, VmState::Running),
                (VmAction::Destroy, VmState::Stopped),
                (VmAction::Destroy, VmState::Failed),
                (VmAction::OpenBreakout, VmState::Running),
                (VmAction::OpenBreakout, VmState::Stopped),
                (VmAction::CloseBreakout, VmState::Running),
                (VmAction::CloseBreakout, VmState::Stopped),
            ]
        );
        assert!(
            VmAction::OpenBreakout
                .allowed_for(VmState::Running, false)
                .is_ok()
        );
        assert!(
            VmAction::OpenBreakout
                .allowed_for(VmState::Running, true)
                .is_err()
        );
        assert!(
            VmAction::CloseBreakout
                .allowed_for(VmState::Stopped, true)
                .is_ok()
        );
        assert!(
            VmAction::CloseBreakout
                .allowed_for(VmState::Stopped, false)
                .is_err()
        );
        assert!(
            VmAction::CloseBreakout
                .allowed_for(VmState::Destroying, true)
                .is_err()
        );
        assert!(VmAction::Stop.allowed_for(VmState::Running, false).is_ok());
    }

    #[test]
    fn disabled_buttons_say_why() {
        let reason = |a: VmAction, s: VmState| a.allowed_in(s).unwrap_err();
        assert_eq!(
            reason(VmAction::Resize, VmState::Running),
            "Stop the VM before resizing it."
        );
        assert_eq!(
            reason(VmAction::Start, VmState::Running),
            "The VM is already running."
        );
        assert_eq!(
            reason(VmAction::Stop, VmState::Stopped),
            "The VM is already stopped."
        );
        assert_eq!(
            reason(VmAction::Reboot, VmState::Stopped),
            "The VM is stopped; start it instead."
        );
        assert_eq!(
            reason(VmAction::Destroy, VmState::Provisioning),
            "Wait until the VM has finished provisioning."
        );
        assert_eq!(
            reason(VmAction::Destroy, VmState::Destroying),
            "The VM is already being destroyed."
        );
        assert_eq!(
            reason(VmAction::Start, VmState::Destroyed),
            "The VM has been destroyed."
        );
        assert!(reason(VmAction::Start, VmState::Failed).contains("destroy it"));
    }
}
