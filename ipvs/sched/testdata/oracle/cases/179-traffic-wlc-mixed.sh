# GVS scheduler oracle case (wlc, weights 1 3 2, held then sequential (inactive connections count 1/256 of an active one)). Traffic helpers and topology: guest/lib.sh
# (client 10.0.1.2..40, rs1..rs4 = 10.0.11.2 .. 10.0.14.2, NAT).
# seq_conns: each connection closes before the next; held_conns: they stay
# ESTABLISHED until the batch ends. one_conn: one short connection to a given VIP.
net_setup
SPORT_BASE=4700
c ipvsadm -A -t 10.0.0.179:80 -s wlc
add_rs "-t 10.0.0.179:80" -m "1 3 2"
c seq_conns 7 10.0.0.179 80 same
SPORT_BASE=4710
c held_conns 9 10.0.0.179 80 same
c ipvsadm -Ln -t 10.0.0.179:80
