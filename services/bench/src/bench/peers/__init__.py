"""Other Python clients doing our consumer's work on the same topic, for `make bench`.

Each peer is one short module, run as `python -m bench.peers.<name>` by `bench.peers.run`, in
its own environment (services/bench/peers: quix-streams pins an older confluent-kafka). The
modules here import nothing from the workspace but `bench.peers.work`, which is standard library.
"""
