//! Cutting a [`Netns`]'s link without closing anything: every frame that arrives at either
//! end of the veth pair is dropped (an nftables `netdev` ingress chain with policy drop on
//! each end), so packets vanish in transit, as when a cable is pulled or a firewall starts
//! dropping. The senders' stacks see their packets leave normally: their retransmissions,
//! keepalive probes and timeouts run as they would on a real network. (`tc ... netem loss`
//! is not built into every kernel, and a plain dropping qdisc on the sending side would not
//! do: the sender's TCP takes a local drop for congestion, and Linux does not count a
//! keepalive probe that failed locally.) No socket is closed: the connections stay open on
//! both sides until their own timers end them.
//!
//! Needs `nft` (nftables). The namespace's chain goes with the namespace; this side's is
//! removed by [`Cut`]'s drop, even when a test fails, or by [`sweep`] when a test process
//! killed during a cut left it and a later namespace gets the same link name.

use std::process::{Command, Stdio};

use crate::netns::{run, Netns};

/// A cut link, restored when dropped (or by [`Cut::restore`]).
#[derive(Debug)]
pub struct Cut<'a> {
    netns: &'a Netns,
    restored: bool,
}

impl Netns {
    /// Cuts this namespace's link now: nothing more arrives at either end until the
    /// returned [`Cut`] is restored or dropped.
    pub fn cut(&self) -> Cut<'_> {
        let cut = Cut {
            netns: self,
            restored: false,
        };
        // From here on the guard removes whatever was added, whatever happens next.
        let table = table(&self.veth);
        for (nft, device) in [
            (Command::new("nft"), &self.veth),
            (self.command("nft".as_ref()), &self.inner),
        ] {
            drop_arrivals(nft, &table, device);
        }
        cut
    }
}

impl Cut<'_> {
    /// Lets packets through again.
    pub fn restore(mut self) {
        self.undo();
    }

    fn undo(&mut self) {
        if std::mem::replace(&mut self.restored, true) {
            return;
        }
        let table = table(&self.netns.veth);
        for mut nft in [Command::new("nft"), self.netns.command("nft".as_ref())] {
            let _ = nft
                .args(["delete", "table", "netdev", &table])
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for Cut<'_> {
    fn drop(&mut self) {
        self.undo();
    }
}

/// Removes a cut of link `veth` left on this side by a killed test process, if any.
pub(crate) fn sweep(veth: &str) {
    let _ = Command::new("nft")
        .args(["delete", "table", "netdev", &table(veth)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The cut's table, named after the link (the same name on both sides).
fn table(veth: &str) -> String {
    format!("inlet_tk_cut_{veth}")
}

/// Adds `table` with an ingress chain on `device` that drops every frame, with `nft` (a
/// command run on this side, or in the namespace).
fn drop_arrivals(mut nft: Command, table: &str, device: &str) {
    let rules = format!(
        "add table netdev {table}; add chain netdev {table} drop_all {{ type filter hook \
         ingress device \"{device}\" priority 0; policy drop; }}"
    );
    run(nft.arg(rules));
}
