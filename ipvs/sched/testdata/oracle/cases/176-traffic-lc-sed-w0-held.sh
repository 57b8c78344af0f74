# GVS scheduler oracle case (lc, weights 1 0 1, held; sed weights 1 3 0 held). Traffic helpers and topology: guest/lib.sh
# (client 10.0.1.2..40, rs1..rs4 = 10.0.11.2 .. 10.0.14.2, NAT).
# seq_conns: each connection closes before the next; held_conns: they stay
# ESTABLISHED until the batch ends. one_conn: one short connection to a given VIP.
net_setup
SPORT_BASE=4500
c ipvsadm -A -t 10.0.0.176:80 -s lc
add_rs "-t 10.0.0.176:80" -m "1 0 1"
c held_conns 6 10.0.0.176 80 same
c ipvsadm -A -t 10.0.0.177:80 -s sed
add_rs "-t 10.0.0.177:80" -m "1 3 0"
SPORT_BASE=4510
c held_conns 8 10.0.0.177 80 same
