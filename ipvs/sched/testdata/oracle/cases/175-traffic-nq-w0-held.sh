# GVS scheduler oracle case (nq, weights 4 0 2, held). Traffic helpers and topology: guest/lib.sh
# (client 10.0.1.2..40, rs1..rs4 = 10.0.11.2 .. 10.0.14.2, NAT).
# seq_conns: each connection closes before the next; held_conns: they stay
# ESTABLISHED until the batch ends. one_conn: one short connection to a given VIP.
net_setup
SPORT_BASE=4400
c ipvsadm -A -t 10.0.0.175:80 -s nq
add_rs "-t 10.0.0.175:80" -m "4 0 2"
c held_conns 8 10.0.0.175 80 same
c ipvsadm -Ln -t 10.0.0.175:80
