# GVS scheduler oracle case (ovf, weights 2 1 1, held connections: overflow in weight order, then refused).
# Traffic helpers and topology: guest/lib.sh
# (client 10.0.1.2..40, rs1..rs4 = 10.0.11.2 .. 10.0.14.2, NAT).
# held_conns: connections stay ESTABLISHED until the batch ends. busybox httpd
# closes a connection that sends no request after 60 s, and under TCG a
# refused connection costs held_conns about 20 s of polling, so the batch is
# kept short: 7 accepted (weight + 1 each), 1 refused.
net_setup
SPORT_BASE=3700
c ipvsadm -A -t 10.0.0.167:80 -s ovf
add_rs "-t 10.0.0.167:80" -m "2 1 1"
c held_conns 8 10.0.0.167 80 same
c ipvsadm -Ln -t 10.0.0.167:80
