# GVS scheduler oracle case (ovf, weights 2 3 3, sequential (ties: first in list order)). Traffic helpers and topology: guest/lib.sh
# (client 10.0.1.2..40, rs1..rs4 = 10.0.11.2 .. 10.0.14.2, NAT).
# seq_conns: each connection closes before the next; held_conns: they stay
# ESTABLISHED until the batch ends. one_conn: one short connection to a given VIP.
net_setup
SPORT_BASE=3800
c ipvsadm -A -t 10.0.0.168:80 -s ovf
add_rs "-t 10.0.0.168:80" -m "2 3 3"
c seq_conns 6 10.0.0.168 80 same
c ipvsadm -Ln -t 10.0.0.168:80
