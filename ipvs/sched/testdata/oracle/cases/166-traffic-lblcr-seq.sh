# GVS scheduler oracle case (lblcr, weights 1 2 3, held then sequential, then a set member quiesced). Traffic helpers and topology: guest/lib.sh
# (client 10.0.1.2..40, rs1..rs4 = 10.0.11.2 .. 10.0.14.2, NAT).
# seq_conns: each connection closes before the next; held_conns: they stay
# ESTABLISHED until the batch ends. one_conn: one short connection to a given VIP.
net_setup
SPORT_BASE=3600
c ipvsadm -A -t 10.0.0.166:80 -s lblcr
add_rs "-t 10.0.0.166:80" -m "1 2 3"
c held_conns 6 10.0.0.166 80 same
SPORT_BASE=3610
c seq_conns 6 10.0.0.166 80 same
c ipvsadm -e -t 10.0.0.166:80 -r 10.0.13.2:80 -m -w 0
SPORT_BASE=3620
c seq_conns 6 10.0.0.166 80 same
c ipvsadm -Ln -t 10.0.0.166:80
