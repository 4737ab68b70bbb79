//! Jobs: the long operations (sagas) of the control plane, as pure state machines.
//!
//! A job is a fixed list of steps. It runs them forward; if one fails it unwinds, undoing the
//! steps already done in reverse order. The control plane persists `(state, step)` after every
//! step, so the position in this machine is all a restarted worker needs to carry on.

use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// What a job does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Create and boot a VM.
    VmCreate,
    /// Power a VM off.
    VmStop,
    /// Power a stopped VM on.
    VmStart,
    /// Restart a running VM.
    VmReboot,
    /// Tear a VM down and release everything it held.
    VmDestroy,
    /// Change a stopped VM's size.
    VmResize,
    /// Give an existing VM a public address (open its internet breakout).
    VmBreakoutOpen,
    /// Take an existing VM's public address away (close its internet breakout).
    VmBreakoutClose,
}

/// One step of a job. Each has an undo; both are idempotent in the control plane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Reserve the VM's size against the tenant's quota.
    ReserveQuota,
    /// Choose a host and reserve its capacity.
    Place,
    /// Give the VM an address in its zone's subnet of the tenant's private network.
    AllocateIp,
    /// Create the VM's disk from its template.
    CreateDisk,
    /// Boot the VM on its host.
    Boot,
    /// Plug the VM into the tenant's private network.
    AttachNetwork,
    /// Give the VM a public address (only when breakout is on).
    Breakout,
    /// Record the VM as running.
    MarkRunning,
    /// Power the VM off.
    PowerOff,
    /// Power the VM on.
    PowerOn,
    /// Restart the guest.
    Reboot,
    /// Record the VM as stopped.
    MarkStopped,
    /// Record that the VM is being destroyed.
    MarkDestroying,
    /// Remove the public address.
    ReleaseBreakout,
    /// Unplug from the private network.
    DetachNetwork,
    /// Delete the disk.
    DeleteDisk,
    /// Return the private address.
    ReleaseIp,
    /// Return the host capacity.
    ReleaseHost,
    /// Return the quota.
    ReleaseQuota,
    /// Record the VM as destroyed.
    MarkDestroyed,
    /// Reserve the difference in quota and on the host for the new size.
    ResizeReserve,
    /// Grow the disk to the new size.
    ResizeDisk,
    /// Record the new size.
    ResizeApply,
    /// Record whether the VM has breakout (with its public-address quota), as the job asks.
    SetBreakout,
}

impl Step {
    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::ReserveQuota => "reserve_quota",
            Step::Place => "place",
            Step::AllocateIp => "allocate_ip",
            Step::CreateDisk => "create_disk",
            Step::Boot => "boot",
            Step::AttachNetwork => "attach_network",
            Step::Breakout => "breakout",
            Step::MarkRunning => "mark_running",
            Step::PowerOff => "power_off",
            Step::PowerOn => "power_on",
            Step::Reboot => "reboot",
            Step::MarkStopped => "mark_stopped",
            Step::MarkDestroying => "mark_destroying",
            Step::ReleaseBreakout => "release_breakout",
            Step::DetachNetwork => "detach_network",
            Step::DeleteDisk => "delete_disk",
            Step::ReleaseIp => "release_ip",
            Step::ReleaseHost => "release_host",
            Step::ReleaseQuota => "release_quota",
            Step::MarkDestroyed => "mark_destroyed",
            Step::ResizeReserve => "resize_reserve",
            Step::ResizeDisk => "resize_disk",
            Step::ResizeApply => "resize_apply",
            Step::SetBreakout => "set_breakout",
        }
    }

    /// What a person watching the progress reads.
    pub fn label(self) -> &'static str {
        match self {
            Step::ReserveQuota => "Reserve quota",
            Step::Place => "Choose a host",
            Step::AllocateIp => "Allocate private IP",
            Step::CreateDisk => "Create disk",
            Step::Boot => "Boot",
            Step::AttachNetwork => "Attach to private network",
            Step::Breakout => "Open internet breakout",
            Step::MarkRunning => "Running",
            Step::PowerOff => "Power off",
            Step::PowerOn => "Power on",
            Step::Reboot => "Reboot",
            Step::MarkStopped => "Stopped",
            Step::MarkDestroying => "Begin teardown",
            Step::ReleaseBreakout => "Release public IP",
            Step::DetachNetwork => "Detach from private network",
            Step::DeleteDisk => "Delete disk",
            Step::ReleaseIp => "Release private IP",
            Step::ReleaseHost => "Release host capacity",
            Step::ReleaseQuota => "Release quota",
            Step::MarkDestroyed => "Destroyed",
            Step::ResizeReserve => "Reserve room for the new size",
            Step::ResizeDisk => "Grow the disk",
            Step::ResizeApply => "New size in place",
            Step::SetBreakout => "Record the breakout choice",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl JobKind {
    /// Every kind.
    pub const ALL: [JobKind; 8] = [
        JobKind::VmCreate,
        JobKind::VmStop,
        JobKind::VmStart,
        JobKind::VmReboot,
        JobKind::VmDestroy,
        JobKind::VmResize,
        JobKind::VmBreakoutOpen,
        JobKind::VmBreakoutClose,
    ];

    /// What the VM is doing while a job of this kind runs, for its badge: "starting…".
    pub fn in_progress(self) -> &'static str {
        match self {
            JobKind::VmCreate => "provisioning…",
            JobKind::VmStop => "stopping…",
            JobKind::VmStart => "starting…",
            JobKind::VmReboot => "rebooting…",
            JobKind::VmDestroy => "destroying…",
            JobKind::VmResize => "resizing…",
            JobKind::VmBreakoutOpen => "adding a public IP…",
            JobKind::VmBreakoutClose => "removing its public IP…",
        }
    }

    /// What became of the VM once a job of this kind succeeded, after its name: "web-1 started".
    pub fn done_phrase(self) -> &'static str {
        match self {
            JobKind::VmCreate => "was created",
            JobKind::VmStop => "stopped",
            JobKind::VmStart => "started",
            JobKind::VmReboot => "rebooted",
            JobKind::VmDestroy => "was destroyed",
            JobKind::VmResize => "was resized",
            JobKind::VmBreakoutOpen => "got a public IP",
            JobKind::VmBreakoutClose => "lost its public IP",
        }
    }

    /// The steps, in order.
    pub fn steps(self) -> &'static [Step] {
        use Step::*;
        match self {
            JobKind::VmCreate => &[
                ReserveQuota,
                Place,
                AllocateIp,
                CreateDisk,
                Boot,
                AttachNetwork,
                Breakout,
                MarkRunning,
            ],
            JobKind::VmStop => &[PowerOff, MarkStopped],
            JobKind::VmStart => &[PowerOn, MarkRunning],
            JobKind::VmReboot => &[Reboot],
            JobKind::VmDestroy => &[
                MarkDestroying,
                ReleaseBreakout,
                DetachNetwork,
                PowerOff,
                DeleteDisk,
                ReleaseIp,
                ReleaseHost,
                ReleaseQuota,
                MarkDestroyed,
            ],
            JobKind::VmResize => &[ResizeReserve, ResizeDisk, ResizeApply],
            // The choice is recorded first when opening (the address step reads it) and last when
            // closing, so an unwind at any point leaves choice and address agreeing.
            JobKind::VmBreakoutOpen => &[SetBreakout, Breakout],
            JobKind::VmBreakoutClose => &[ReleaseBreakout, SetBreakout],
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::VmCreate => "vm_create",
            JobKind::VmStop => "vm_stop",
            JobKind::VmStart => "vm_start",
            JobKind::VmReboot => "vm_reboot",
            JobKind::VmDestroy => "vm_destroy",
            JobKind::VmResize => "vm_resize",
            JobKind::VmBreakoutOpen => "vm_breakout_open",
            JobKind::VmBreakoutClose => "vm_breakout_close",
        }
    }

    /// Parses a stored name.
    pub fn parse(raw: &str) -> Option<Self> {
        JobKind::ALL.into_iter().find(|kind| kind.as_str() == raw)
    }
}

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for a worker.
    Queued,
    /// Running its steps forward.
    Running,
    /// A step failed (or the job was cancelled); undoing the steps done, last first.
    Unwinding,
    /// Every step ran.
    Succeeded,
    /// Unwound after a failure: nothing the job did remains.
    Failed,
    /// Unwound after a cancel.
    Cancelled,
}

impl JobState {
    /// Every state.
    pub const ALL: [JobState; 6] = [
        JobState::Queued,
        JobState::Running,
        JobState::Unwinding,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Unwinding => "unwinding",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    /// Parses a stored name.
    pub fn parse(raw: &str) -> Option<Self> {
        JobState::ALL.into_iter().find(|state| state.as_str() == raw)
    }

    /// Whether the job is over.
    pub fn is_terminal(self) -> bool {
        matches!(self, JobState::Succeeded | JobState::Failed | JobState::Cancelled)
    }
}

/// The position of a job: its state and, for a live job, which step is next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobPosition {
    /// The kind, which fixes the steps.
    pub kind: JobKind,
    /// The state.
    pub state: JobState,
    /// Running: the index of the next step to do. Unwinding: how many done steps remain to undo.
    pub step: usize,
}

/// What a worker must do next for a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextAction {
    /// Run this step forward.
    Do(Step),
    /// Undo this (already done) step.
    Undo(Step),
    /// Nothing: the job has reached the given terminal state.
    Finish(JobState),
}

/// A transition the job machine does not allow.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("job in state {state:?} cannot {action}")]
pub struct IllegalJobTransition {
    /// The state it was in.
    pub state: JobState,
    /// What was attempted.
    pub action: &'static str,
}

impl JobPosition {
    /// A new job, queued at its first step.
    pub fn new(kind: JobKind) -> Self {
        Self {
            kind,
            state: JobState::Queued,
            step: 0,
        }
    }

    /// What comes next from here.
    pub fn next(self) -> NextAction {
        let steps = self.kind.steps();
        match self.state {
            JobState::Queued | JobState::Running if self.step < steps.len() => {
                NextAction::Do(steps[self.step])
            }
            JobState::Queued | JobState::Running => NextAction::Finish(JobState::Succeeded),
            JobState::Unwinding if self.step > 0 => NextAction::Undo(steps[self.step - 1]),
            JobState::Unwinding => NextAction::Finish(JobState::Failed),
            terminal => NextAction::Finish(terminal),
        }
    }

    /// The position after the next forward step succeeded.
    pub fn step_done(self) -> Result<Self, IllegalJobTransition> {
        match self.next() {
            NextAction::Do(_) => Ok(Self {
                state: JobState::Running,
                step: self.step + 1,
                ..self
            }),
            _ => Err(IllegalJobTransition {
                state: self.state,
                action: "complete a step",
            }),
        }
    }

    /// The position after the next forward step failed: unwind the steps already done.
    pub fn step_failed(self) -> Result<Self, IllegalJobTransition> {
        match self.next() {
            NextAction::Do(_) => Ok(Self {
                state: JobState::Unwinding,
                ..self
            }),
            _ => Err(IllegalJobTransition {
                state: self.state,
                action: "fail a step",
            }),
        }
    }

    /// The position after one undo succeeded.
    pub fn undo_done(self) -> Result<Self, IllegalJobTransition> {
        match self.next() {
            NextAction::Undo(_) => Ok(Self {
                step: self.step - 1,
                ..self
            }),
            _ => Err(IllegalJobTransition {
                state: self.state,
                action: "complete an undo",
            }),
        }
    }

    /// The position after a cancel: a live job unwinds; a finished one cannot be cancelled.
    pub fn cancel(self) -> Result<Self, IllegalJobTransition> {
        match self.state {
            JobState::Queued | JobState::Running => Ok(Self {
                state: JobState::Unwinding,
                ..self
            }),
            state => Err(IllegalJobTransition {
                state,
                action: "be cancelled",
            }),
        }
    }

    /// The step at which the job failed, while unwinding or once failed: the first not done.
    pub fn failed_step(self, steps_done_when_failed: usize) -> Option<Step> {
        self.kind.steps().get(steps_done_when_failed).copied()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_kind_says_what_the_vm_is_doing_while_it_runs() {
        let words: std::collections::BTreeSet<&str> =
            super::JobKind::ALL.iter().map(|k| k.in_progress()).collect();
        assert_eq!(words.len(), super::JobKind::ALL.len(), "each kind its own words");
        assert_eq!(super::JobKind::VmStart.in_progress(), "starting…");
        assert!(words.iter().all(|w| w.ends_with('…')));
        let done: std::collections::BTreeSet<&str> =
            super::JobKind::ALL.iter().map(|k| k.done_phrase()).collect();
        assert_eq!(done.len(), super::JobKind::ALL.len());
    }

    use super::*;

    #[test]
    fn a_job_runs_every_step_then_succeeds() {
        for kind in JobKind::ALL {
            let mut position = JobPosition::new(kind);
            let mut ran = Vec::new();
            while let NextAction::Do(step) = position.next() {
                ran.push(step);
                position = position.step_done().unwrap();
            }
            assert_eq!(ran, kind.steps());
            assert_eq!(position.next(), NextAction::Finish(JobState::Succeeded));
        }
    }

    #[test]
    fn a_failure_at_any_step_undoes_exactly_the_steps_done_in_reverse() {
        for kind in JobKind::ALL {
            for fail_at in 0..kind.steps().len() {
                let mut position = JobPosition::new(kind);
                for _ in 0..fail_at {
                    position = position.step_done().unwrap();
                }
                position = position.step_failed().unwrap();
                let mut undone = Vec::new();
                while let NextAction::Undo(step) = position.next() {
                    undone.push(step);
                    position = position.undo_done().unwrap();
                }
                let mut expected = kind.steps()[..fail_at].to_vec();
                expected.reverse();
                assert_eq!(undone, expected, "{kind:?} failing at {fail_at}");
                assert_eq!(position.next(), NextAction::Finish(JobState::Failed));
            }
        }
    }

    #[test]
    fn finished_jobs_refuse_further_transitions() {
        let done = JobPosition {
            kind: JobKind::VmStop,
            state: JobState::Succeeded,
            step: 2,
        };
        assert!(done.step_done().is_err());
        assert!(done.step_failed().is_err());
        assert!(done.cancel().is_err());
        assert!(JobPosition::new(JobKind::VmStop).undo_done().is_err());
    }

    #[test]
    fn names_round_trip() {
        for kind in JobKind::ALL {
            assert_eq!(JobKind::parse(kind.as_str()), Some(kind));
        }
        for state in JobState::ALL {
            assert_eq!(JobState::parse(state.as_str()), Some(state));
        }
    }
}
