# GVS scheduler oracle case (lblcr, weights 2 2 2, held connections (the set grows when its least loaded server is overloaded)). Traffic helpers and topology: guest/lib.sh
# (client 10.0.1.2..40, rs1..rs4 = 10.0.11.2 .. 10.0.14.2, NAT).
# seq_conns: each connection closes before the next; held_conns: they stay
# ESTABLISHED until the batch ends. one_conn: one short connection to a given VIP.
net_setup
SPORT_BASE=3500
c ipvsadm -A -t 10.0.0.165:80 -s lblcr
add_rs "-t 10.0.0.165:80" -m "2 2 2"
c held_conns 14 10.0.0.165 80 same
c ipvsadm -Ln -t 10.0.0.165:80
