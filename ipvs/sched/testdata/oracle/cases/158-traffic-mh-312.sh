# GVS scheduler oracle case (mh, weights 3 1 2, 30 clients). Traffic helpers and topology: guest/lib.sh
# (client 10.0.1.2..40, rs1..rs4 = 10.0.11.2 .. 10.0.14.2, NAT).
# seq_conns: each connection closes before the next; held_conns: they stay
# ESTABLISHED until the batch ends. one_conn: one short connection to a given VIP.
net_setup
SPORT_BASE=2800
c ipvsadm -A -t 10.0.0.158:80 -s mh
add_rs "-t 10.0.0.158:80" -m "3 1 2"
c seq_conns 30 10.0.0.158 80 vary
c ipvsadm -Ln -t 10.0.0.158:80
