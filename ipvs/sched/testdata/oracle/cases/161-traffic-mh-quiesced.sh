# GVS scheduler oracle case (mh without fallback: rs4 added with weight 0 (never in the table), rs2 quiesced after). Traffic helpers and topology: guest/lib.sh
# (client 10.0.1.2..40, rs1..rs4 = 10.0.11.2 .. 10.0.14.2, NAT).
# seq_conns: each connection closes before the next; held_conns: they stay
# ESTABLISHED until the batch ends. one_conn: one short connection to a given VIP.
net_setup
SPORT_BASE=3100
c ipvsadm -A -t 10.0.0.161:80 -s mh
add_rs "-t 10.0.0.161:80" -m "1 1 1 0"
c seq_conns 20 10.0.0.161 80 vary
c ipvsadm -e -t 10.0.0.161:80 -r 10.0.12.2:80 -m -w 0
SPORT_BASE=3130
c seq_conns 20 10.0.0.161 80 vary
c ipvsadm -Ln -t 10.0.0.161:80
