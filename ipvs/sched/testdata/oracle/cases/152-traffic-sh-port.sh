# GVS scheduler oracle case (sh with sh-port, one client, 24 source ports). Traffic helpers and topology: guest/lib.sh
# (client 10.0.1.2..40, rs1..rs4 = 10.0.11.2 .. 10.0.14.2, NAT).
# seq_conns: each connection closes before the next; held_conns: they stay
# ESTABLISHED until the batch ends. one_conn: one short connection to a given VIP.
net_setup
SPORT_BASE=2200
c ipvsadm -A -t 10.0.0.152:80 -s sh -b sh-port
add_rs "-t 10.0.0.152:80" -m "1 1 1"
c seq_conns 24 10.0.0.152 80 same
c ipvsadm -Ln -t 10.0.0.152:80
