module tricolorbench

go 1.19
