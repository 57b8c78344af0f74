# GVS scheduler oracle case (lblc, weights 1 2 3, sequential; then the cached server quiesced, then deleted). Traffic helpers and topology: guest/lib.sh
# (client 10.0.1.2..40, rs1..rs4 = 10.0.11.2 .. 10.0.14.2, NAT).
# seq_conns: each connection closes before the next; held_conns: they stay
# ESTABLISHED until the batch ends. one_conn: one short connection to a given VIP.
net_setup
SPORT_BASE=3400
c ipvsadm -A -t 10.0.0.164:80 -s lblc
add_rs "-t 10.0.0.164:80" -m "1 2 3"
c seq_conns 5 10.0.0.164 80 vary
c ipvsadm -e -t 10.0.0.164:80 -r 10.0.13.2:80 -m -w 0
SPORT_BASE=3410
c seq_conns 5 10.0.0.164 80 vary
c ipvsadm -Ln -t 10.0.0.164:80
c ipvsadm -d -t 10.0.0.164:80 -r 10.0.12.2:80
SPORT_BASE=3420
c seq_conns 5 10.0.0.164 80 vary
c ipvsadm -Ln -t 10.0.0.164:80
