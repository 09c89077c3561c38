//! chatctl: deploy a real-time one-to-one WebSocket chat service on AWS, tear it down, or run
//! it on one machine. `main.rs` is a thin shell around this library so that integration tests
//! drive the same code paths as the binary.

pub mod auth;
pub mod aws;
pub mod chat_api;
pub mod cli;
pub mod commands;
pub mod config;
pub mod dev;
pub mod github;
pub mod init;
pub mod lock;
pub mod logging;
pub mod logs;
pub mod ownership;
pub mod package;
pub mod partition;
pub mod plan;
pub mod probe;
pub mod resources;
pub mod retry;
pub mod stack;
pub mod ui;
