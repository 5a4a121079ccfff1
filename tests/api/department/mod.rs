//! The department's desk and leg 2: the queue, result files, decisions, the result posted back
//! by the in-process SF simulator, confirm-receipt and auto-confirm.

mod decisions;
mod desk;
