# GVS scheduler oracle case (lblc, weights 2 2 2, held connections (the entry moves when its server has more active conns than weight)). Traffic helpers and topology: guest/lib.sh
# (client 10.0.1.2..40, rs1..rs4 = 10.0.11.2 .. 10.0.14.2, NAT).
# seq_conns: each connection closes before the next; held_conns: they stay
# ESTABLISHED until the batch ends. one_conn: one short connection to a given VIP.
net_setup
SPORT_BASE=3300
c ipvsadm -A -t 10.0.0.163:80 -s lblc
add_rs "-t 10.0.0.163:80" -m "2 2 2"
c held_conns 12 10.0.0.163 80 same
c ipvsadm -Ln -t 10.0.0.163:80
