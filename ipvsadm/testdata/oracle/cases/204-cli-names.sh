# host and service names in listings: long names, truncation
q sh -c 'cp /etc/hosts /tmp/hosts.orig'
q sh -c 'printf "10.9.0.1 a23456789012345678901234567890.example\n10.9.0.2 short.example\n10.9.0.3 b234567890123456789012345678901234567890123456789012345678901234567890.example\n2001:db8::9 v6host.example\n10.9.0.4 c2345678901234567890\n10.9.0.5 d234567890123456789012\n10.9.0.6 e23456789012345678901234\n" >> /etc/hosts'
c ipvsadm -A -t 10.9.0.1:80 -s rr
c ipvsadm -a -t 10.9.0.1:80 -r 10.9.0.1:80 -m
c ipvsadm -a -t 10.9.0.1:80 -r 10.9.0.2:8080 -m
c ipvsadm -a -t 10.9.0.1:80 -r 10.9.0.3:443 -m
c ipvsadm -a -t 10.9.0.1:80 -r 10.9.0.4:443 -m
c ipvsadm -a -t 10.9.0.1:80 -r 10.9.0.5:443 -m
c ipvsadm -a -t 10.9.0.1:80 -r 10.9.0.6:12345 -m
c ipvsadm -A -t 10.9.0.3:12345 -s rr
c ipvsadm -A -u 10.9.0.4:12345 -s rr
c ipvsadm -A -u 10.9.0.5:5060 -s rr
c ipvsadm -A -u 10.9.0.6:5060 -s rr
c ipvsadm -A -t [2001:db8::9]:80 -s rr
c ipvsadm -a -t [2001:db8::9]:80 -r [2001:db8::9]:8080 -m
c ipvsadm -a -t [2001:db8::9]:80 -r 10.9.0.3:8080 -i
c ipvsadm -A -t short.example:https -s rr
c ipvsadm -A -t v6host.example:80 -s rr
c ipvsadm -L
c ipvsadm -L --stats
c ipvsadm -L --rate
c ipvsadm -L --thresholds
c ipvsadm -L --persistent-conn
c ipvsadm -L --tun-info
c ipvsadm -S
c ipvsadm -L -t 10.9.0.1:80 --stats
q sh -c 'cp /tmp/hosts.orig /etc/hosts'
