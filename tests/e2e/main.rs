//! End-to-end tests: real `phr` processes on loopback, driven over HTTP and
//! through the command line.

mod audit;
mod bad_input;
mod cli;
mod cluster;
#[path = "../../host/executor/tests/rules/components.rs"]
mod components;
mod crash;
mod demo;
mod events;
mod openapi;
mod privacy;
mod runaway;
mod support;
